"""Output cut short (`oppdemo diff | head -1`, a closed pipe) is the reader's choice, not a
failure: the command finishes, says nothing more, and exits with its own code.

Without this, the first write after the reader left raises BrokenPipeError: a traceback, or
Click's exit 1 (which a drift gate reads as "drift" when everything is in sync).
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO


class _Guarded:
    """A text stream whose writes, once its reader has gone, are dropped without a word."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._closed = False

    def write(self, text: str) -> int:
        if not self._closed:
            try:
                return self._stream.write(text)
            except OSError as error:
                self._gone(error)
        return len(text)

    def flush(self) -> None:
        if not self._closed:
            try:
                self._stream.flush()
            except OSError as error:
                self._gone(error)

    def _gone(self, error: OSError) -> None:
        # Windows says EINVAL where POSIX says EPIPE; any other error is a real one.
        if error.errno not in (errno.EPIPE, errno.EINVAL):
            raise error
        self._drop()

    def _drop(self) -> None:
        """Point the descriptor at the null device: what is still buffered (flushed again
        when the interpreter exits) then goes nowhere instead of raising once more."""
        self._closed = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_streams() -> None:
    """Make stdout and stderr drop output once their reader has gone."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _Guarded):
            setattr(sys, name, _Guarded(stream))
