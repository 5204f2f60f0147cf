"""Ctrl-C and SIGTERM during a change: noted, and acted on between two file operations."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from oppdemo.errors import OppdemoError

_EXIT_CODES: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(OppdemoError):
    """The user interrupted a command; what it had done was put back."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = _EXIT_CODES.get(signum, 130)
        self.signal_name = signal.Signals(signum).name


class SignalGuard:
    """Remembers the first SIGINT or SIGTERM instead of letting it stop Python mid-file."""

    def __init__(self) -> None:
        self.received: int | None = None

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum

    def check(self) -> None:
        """Raise `Interrupted` once a signal has arrived (called at file boundaries)."""
        if self.received is not None:
            name = signal.Signals(self.received).name
            raise Interrupted(f"Interrupted ({name}) before anything was changed.", self.received)


@contextmanager
def deferred_signals() -> Iterator[SignalGuard]:
    """Defer SIGINT and SIGTERM for the duration; the guard says whether one arrived."""
    guard = SignalGuard()
    if threading.current_thread() is not threading.main_thread():
        yield guard  # signal handlers can only be set from the main thread
        return
    previous = {signum: signal.signal(signum, guard._note) for signum in _EXIT_CODES}
    try:
        yield guard
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# The backup of the change this process has made, if it made one: a Ctrl-C after it (while
# the result is shown, or a hook runs) must not say that nothing was changed.
_COMMITTED: list[str] = []


def note_committed(backup_id: str) -> None:
    _COMMITTED.append(backup_id)


def interrupted_message() -> str:
    """What to say when Ctrl-C stops the command line outside a change."""
    if not _COMMITTED:
        return "Interrupted before anything was changed."
    backup = _COMMITTED[-1]
    return (
        f"Interrupted after the files were changed (backup {backup}): "
        f"`oppdemo undo {backup}` puts them back."
    )
