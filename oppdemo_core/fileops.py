"""The only places where oppdemo writes or removes files: atomic placement and safe removal."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from pathlib import Path

from .ignore import TEMPORARY_SUFFIX
from .scan import Kind


def place(source: Path, target: Path, kind: Kind) -> None:
    """Put a copy of `source` (a file or a symlink) at `target`, atomically.

    The copy is made beside the target and renamed over it, so a reader or a crash never meets
    half a file, and a symlink at `target` is replaced rather than written through.
    """
    temporary = f"{target.parent}/.{target.name}.{os.urandom(4).hex()}{TEMPORARY_SUFFIX}"
    try:
        if kind == "link":
            os.symlink(os.readlink(source), temporary)
        else:
            _copy_file(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _copy_file(source: Path, destination: str) -> None:
    """Copy contents, permission bits and modification time, with as few system calls as can be.

    Saves and restores copy thousands of small files, so this skips shutil's layers (and its
    extended-attribute copy) and lets the kernel move the bytes.
    """
    reader = os.open(source, os.O_RDONLY)
    try:
        info = os.fstat(reader)
        writer = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            remaining = info.st_size
            while remaining > 0:
                sent = _send(reader, writer, remaining)
                if sent == 0:
                    break
                remaining -= sent
            os.fchmod(writer, stat.S_IMODE(info.st_mode))
            os.utime(writer, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(writer)
    finally:
        os.close(reader)


def _send(reader: int, writer: int, count: int) -> int:
    try:
        return os.sendfile(writer, reader, None, min(count, 1 << 30))
    except OSError as error:
        # Some filesystems refuse sendfile; fall back to plain reads and writes.
        if error.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP):
            raise
        data = os.read(reader, min(count, 1 << 20))
        return os.write(writer, data) if data else 0


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
