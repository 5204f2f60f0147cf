"""`storage get`: copy a stored file to a local file or to standard output, streamed."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from oppdemo.errors import PlanError

if TYPE_CHECKING:
    from services.storage import StorageInterface

_CHUNK = 1024 * 1024


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
    with storage.open_file(key) as stream:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            with os.fdopen(descriptor, "wb") as output:
                shutil.copyfileobj(stream, output, _CHUNK)  # type: ignore[misc]
            # A new file's usual mode (mkstemp makes it private).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            # A hard link, unlike a rename, fails if a file appeared at `dest` meanwhile.
            os.link(temporary, dest)
        finally:
            os.unlink(temporary)
    return dest
