"""The only places where oppdemo writes or removes files: atomic placement and safe removal."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .ignore import TEMPORARY_SUFFIX
from .scan import Kind


def place(source: Path, target: Path, kind: Kind) -> None:
    """Put a copy of `source` (a file or a symlink) at `target`, atomically.

    The copy is made beside the target and renamed over it, so a reader or a crash never meets
    half a file, and a symlink at `target` is replaced rather than written through.
    """
    temporary = target.parent / f".{target.name}.{os.urandom(4).hex()}{TEMPORARY_SUFFIX}"
    try:
        if kind == "link":
            os.symlink(os.readlink(source), temporary)
        else:
            shutil.copyfile(source, temporary, follow_symlinks=False)
            shutil.copystat(source, temporary, follow_symlinks=False)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def keep(path: Path, copy_path: Path, kind: Kind) -> None:
    """Preserve `path` at `copy_path` before it is replaced or removed.

    A hard link costs nothing and stays intact, because oppdemo never writes into a file in
    place: it only renames new files over old ones or unlinks them. Where links are not
    possible (another filesystem), the file is copied.
    """
    copy_path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "link":
        os.symlink(os.readlink(path), copy_path)
        return
    try:
        os.link(path, copy_path, follow_symlinks=False)
    except OSError:
        shutil.copy2(path, copy_path, follow_symlinks=False)


def remove(path: Path, kind: Kind) -> None:
    """Remove a file, link or (empty) folder; one already gone is not an error."""
    try:
        if kind == "dir":
            os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def make_folder(path: Path, mode: int) -> None:
    """Create a folder with `mode`; one that already exists is left alone."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not path.is_dir() or path.is_symlink():
            raise
        return
    os.chmod(path, mode)
