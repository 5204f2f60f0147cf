"""One oppdemo process at a time may change a project's files."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockedError

LOCK_NAME = ".oppdemo.lock"


@contextmanager
def project_lock(backups_folder: Path) -> Iterator[None]:
    """Hold an exclusive lock for the whole command; fail at once if another process has it.

    The kernel releases the lock when the process ends, even by SIGKILL, so a crash never
    leaves the project locked.
    """
    backups_folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(backups_folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                "Another oppdemo command is changing this project: wait for it to finish "
                "and run again."
            ) from None
        yield
    finally:
        os.close(descriptor)
