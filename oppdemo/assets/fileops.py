"""The only places where oppdemo writes or removes files: atomic placement and safe removal."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from oppdemo.assets.ignore import TEMPORARY_SUFFIX
from oppdemo.assets.scan import Kind


def place(
    source: str | Path, target: str | Path, kind: Kind, link: bool = False, staged: bool = False
) -> None:
    """Put a copy of `source` (a file or a symlink) at `target`, atomically.

    The copy is made beside the target and renamed over it, so a reader or a crash never meets
    half a file, and a symlink at `target` is replaced rather than written through. With `link`
    a file is placed as a hard link to `source` where the filesystem allows, which needs no
    space for its contents. With `staged`, `target` lies in a folder that is still hidden under
    a temporary name (see `temporary_name`), so the copy is made in place.
    """
    source, target = os.fspath(source), os.fspath(target)
    if staged:
        _make(source, target, kind, link)
        return
    if link and kind == "file" and _same_inode(source, target):
        # Already in place (a rollback meets files the command never got to); renaming a hard
        # link over another link to the same file would do nothing and leave the temporary.
        return
    temporary = temporary_name(target)
    try:
        _make(source, temporary, kind, link)
        try:
            os.replace(temporary, target)
        except PermissionError:
            _retry_on_windows(target, lambda: os.replace(temporary, target))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def temporary_name(target: str) -> str:
    """A hidden name beside `target`, unique within this run (a counter) and across runs."""
    folder, name = os.path.split(target)
    return f"{folder}/.{name}.{_RUN_TAG}{next(_COUNTER)}{TEMPORARY_SUFFIX}"


def _make(source: str, target: str, kind: Kind, link: bool) -> None:
    if kind == "link":
        os.symlink(os.readlink(source), target)
    elif link:
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:
            _copy_file(source, target)
    else:
        _copy_file(source, target)


_RUN_TAG = os.urandom(3).hex()
_COUNTER = itertools.count()


def _same_inode(first: str, second: str) -> bool:
    try:
        a, b = os.lstat(first), os.lstat(second)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) and stat.S_ISREG(b.st_mode)


# Windows opens files in text mode unless told otherwise.
BINARY = getattr(os, "O_BINARY", 0)
# Linux copies between files in the kernel; elsewhere sendfile wants a socket or is missing.
_SENDFILE = sys.platform.startswith("linux")
# Setting mode and times through the open descriptor saves two path lookups; Windows can't.
_BY_DESCRIPTOR = os.chmod in os.supports_fd and os.utime in os.supports_fd


def _copy_file(source: str, destination: str) -> None:
    """Copy contents, permission bits and modification time, with as few system calls as can be.

    Saves and restores copy thousands of small files, so this skips shutil's layers (and its
    extended-attribute copy) and lets the kernel move the bytes.
    """
    reader = os.open(source, os.O_RDONLY | BINARY)
    try:
        info = os.fstat(reader)
        mode, times = stat.S_IMODE(info.st_mode), (info.st_atime_ns, info.st_mtime_ns)
        writer = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o600)
        try:
            _copy_bytes(reader, writer, info.st_size)
            if _BY_DESCRIPTOR:
                os.chmod(writer, mode)
                os.utime(writer, ns=times)
        finally:
            os.close(writer)
        if not _BY_DESCRIPTOR:
            os.utime(destination, ns=times)
            os.chmod(destination, mode)
    finally:
        os.close(reader)


def _copy_bytes(reader: int, writer: int, size: int) -> None:
    remaining = size
    while remaining > 0:
        sent = _send(reader, writer, remaining)
        if sent == 0:
            break
        remaining -= sent


def _send(reader: int, writer: int, count: int) -> int:
    if _SENDFILE:
        try:
            return os.sendfile(writer, reader, None, min(count, 1 << 30))
        except OSError as error:
            # Some filesystems refuse sendfile; fall back to plain reads and writes.
            if error.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP):
                raise
    data = os.read(reader, min(count, 1 << 20))
    if not data:
        return 0
    view = memoryview(data)
    while view:
        view = view[os.write(writer, view) :]
    return len(data)


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


def remove_temporary(path: str | Path) -> None:
    """Remove what an interrupted run left: a temporary file, or a whole staged folder."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        remove(path, "file")


def remove(path: str | Path, kind: Kind) -> None:
    """Remove a file, link or (empty) folder; one already gone is not an error."""
    try:
        if kind == "dir":
            os.rmdir(path)
        else:
            _retry_on_windows(path, lambda: os.unlink(path))
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


def _retry_on_windows(path: str | Path, action: Callable[[], None]) -> None:
    """Run `action` (a replace or a removal of `path`) once more where Windows refused it.

    Windows cannot replace or delete a read-only file: its read-only flag is cleared (the
    backup keeps the original mode). Nor one that another program holds open without sharing
    it (an editor, a virus scanner): that is tried again a few times, briefly, before failing.
    """
    try:
        action()
        return
    except PermissionError:
        if os.name != "nt":
            raise
    if os.path.isfile(path) and not os.access(path, os.W_OK):
        os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
    for attempt in range(1, 6):
        try:
            action()
            return
        except PermissionError:
            if attempt == 5:
                raise
            time.sleep(0.05 * attempt)
