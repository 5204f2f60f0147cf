"""`storage get`: copy a stored file to a local file or to standard output, streamed."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from oppdemo.errors import EXIT_DRIFT, OppdemoError, PlanError
from oppdemo.pause import pause_point
from oppdemo.storage.leftovers import remove_stale_temporaries, temporary_file

if TYPE_CHECKING:
    from services.storage import StorageInterface

_CHUNK = 1024 * 1024


class DownloadFailed(OppdemoError):
    """The local file could not be written (a full disk, a folder without permission)."""

    exit_code = EXIT_DRIFT


def download(storage: StorageInterface, key: str, dest: Path | None) -> Path | None:
    """Write `key` to `dest` (a new file), or to standard output when `dest` is None.

    An existing file is never overwritten; the new one appears whole (written beside it and
    renamed into place), so an interrupted download leaves nothing half-written.
    """
    if dest is None:
        with storage.open_file(key) as stream:
            shutil.copyfileobj(stream, sys.stdout.buffer, _CHUNK)  # type: ignore[misc]
        sys.stdout.buffer.flush()
        return None
    if dest.exists() or dest.is_symlink():
        raise PlanError(f"{dest} already exists: choose another destination, or remove it first.")
    if not dest.parent.is_dir():
        raise PlanError(f"The folder {dest.parent} does not exist: create it first.")
    prefix = f".{dest.name}.oppdemo-"
    # What a killed download to this same place left (its process is gone) goes first.
    remove_stale_temporaries(dest.parent, prefix)
    with storage.open_file(key) as stream:
        try:
            descriptor, temporary = temporary_file(dest.parent, prefix)
        except OSError as error:
            raise _write_error(dest, error) from None
        try:
            with os.fdopen(descriptor, "wb") as output:
                while chunk := stream.read(_CHUNK):
                    pause_point("get-write")
                    output.write(chunk)
            # A new file's usual mode (mkstemp makes it private).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            # A hard link, unlike a rename, fails if a file appeared at `dest` meanwhile.
            os.link(temporary, dest)
        except FileExistsError:
            raise PlanError(
                f"{dest} appeared while {key!r} was downloaded: choose another destination, "
                "or remove it first."
            ) from None
        except OSError as error:
            raise _write_error(dest, error) from None
        finally:
            Path(temporary).unlink(missing_ok=True)
    return dest


def _write_error(dest: Path, error: OSError) -> DownloadFailed:
    """One sentence naming the local path that could not be written, and the fix."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = f"free space on the disk of {dest.parent}, or give a destination on another disk"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"make {dest.parent} writable, or give another destination"
    elif error.errno == errno.ENAMETOOLONG:
        fix = "give a shorter destination name"
    else:
        fix = "check the destination"
    return DownloadFailed(f"Cannot write {dest} ({reason}); nothing was written: {fix}.")
