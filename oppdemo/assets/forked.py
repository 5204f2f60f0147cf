"""Half the work in a forked child on the other core, half here: for Linux's cheap fork."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1


def run_halves(
    here: Callable[[], T], there: Callable[[], bytes], die_with_parent: bool = False
) -> tuple[T, bytes]:
    """Run `there` in a forked child while `here` runs in this process.

    Returns what `here` returned and the bytes `there` returned (empty if the child died
    without a word). The child is always waited for before this returns or raises what
    `here` raised, so nothing the child does can race what the caller does next. With
    `die_with_parent`, a parent killed even by SIGKILL takes the child with it.
    """
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do its half, send the result, exit at once
        os.close(read_end)
        code = 0
        try:
            if die_with_parent:
                _die_with_parent(parent)
            message = there()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(message)
        except BaseException:
            code = 1
        finally:
            # Leave without running the parent's exit handlers or flushing its buffers twice.
            os._exit(code)
    os.close(write_end)
    try:
        result = here()
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read()
        os.waitpid(pid, 0)
    return result, message


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this child when its parent dies (SIGKILL included)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
