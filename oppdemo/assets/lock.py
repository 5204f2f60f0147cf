"""One oppdemo process at a time may change a project's files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from oppdemo.errors import LockedError

LOCK_NAME = ".oppdemo.lock"


@contextmanager
def project_lock(backups_folder: Path) -> Iterator[None]:
    """Hold an exclusive lock for the whole command; fail at once if another process has it.

    filelock takes an operating-system lock (flock on Linux and macOS, msvcrt on Windows),
    which the kernel releases when the process ends, even by SIGKILL, so a crash never leaves
    the project locked. Keeping the lock file rules out filelock's fallback to "soft" locks,
    which a crash would leave behind.
    """
    from filelock import FileLock, Timeout

    try:
        backups_folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise LockedError(
            f"{backups_folder} is a file, so no backup can be kept there: move it away, or name "
            "another folder in [tool.oppdemo] backups. Nothing was changed."
        ) from None
    lock = FileLock(backups_folder / LOCK_NAME, timeout=0, preserve_lock_file=True)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(
            "Another oppdemo command is changing this project: wait for it to finish and run again."
        ) from None
    try:
        yield
    finally:
        lock.release()
