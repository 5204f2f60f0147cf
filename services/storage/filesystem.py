"""Storage in a local folder, served as static files by the web app."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from .base import (
    CHUNK_SIZE,
    FileInfo,
    ObjectAttributes,
    Readable,
    StorageInterface,
    StoredFile,
    guess_content_type,
)
from .errors import (
    StorageAccessError,
    StorageConflictError,
    StorageError,
    StorageUnavailableError,
    UnsafeKeyError,
)
from .keys import check_local_key

# Partly written files are named `.storage-tmp-<pid>-<8 random characters>` until they are
# renamed into place; listings skip exactly these names, so a user's own `.storage-tmp-a.jpg`
# is a file like any other. (An earlier version's `.storage-tmp-<8 random>` is listed too:
# such a name could be a user's, and a file is never removed on a guess.)
_TEMPORARY_PREFIX = ".storage-tmp-"
_TEMPORARY_NAME = re.compile(r"\.storage-tmp-(\d+)-[a-z0-9_]{8}")
# Where a writer cannot be asked about (Windows), its temporary file is a leftover this old.
_UNOWNED_AGE = 24 * 3600
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}


class FilesystemStorage(StorageInterface):
    """Keep files under `base_dir`; their URLs are `base_url` plus the percent-encoded key."""

    backend_name = "filesystem"

    def __init__(
        self, base_dir: str | os.PathLike[str] = "static/uploads", base_url: str = "/static/uploads"
    ) -> None:
        self.base_dir = Path(base_dir)
        self.base_url = base_url.rstrip("/")

    def describe(self) -> str:
        return f"filesystem ({self.base_dir})"

    def _check_key(self, key: str) -> None:
        check_local_key(key)
        self._path(key)

    def _path(self, key: str) -> Path:
        """Join `key` under the base folder, refusing anything that resolves outside it."""
        base = os.path.realpath(self.base_dir)
        # realpath follows symlinks already inside the base, so a link to /etc is caught here.
        target = os.path.realpath(os.path.join(base, key))
        if os.path.commonpath([base, target]) != base or target == base:
            raise UnsafeKeyError(f"Storage key {key!r} resolves outside {self.base_dir}.")
        return Path(target)

    def _unlinked_path(self, key: str) -> Path:
        """The path of `key` for a write or a delete, refusing a key that runs through a link.

        `_path` resolves links, so a link inside the base to a file inside it would pass, and
        a delete would remove the link's target (a seeded photo behind an `uploads/` alias).
        Writes and deletes therefore use the unresolved path, and no part of it may be a link.
        """
        self._path(key)
        base = os.path.realpath(self.base_dir)
        path = base
        # A link swapped in between this check and the write is a race we accept: the base
        # folder belongs to the app, and the rename or unlink below acts on the link itself.
        for segment in key.split("/"):
            path = os.path.join(path, segment)
            if os.path.islink(path):
                shown = os.path.relpath(path, base).replace(os.sep, "/")
                raise UnsafeKeyError(
                    f"Storage key {key!r} runs through a symbolic link ({shown}) in "
                    f"{self.base_dir}: files are never written or deleted through a link; "
                    "remove the link or use another key."
                )
        return Path(path)

    @contextmanager
    def _translate(self, action: str, key: str) -> Iterator[None]:
        """Turn the system's refusals into this package's errors, naming the key, not the path.

        A missing key stays `FileNotFoundError`, as the interface promises.
        """
        try:
            yield
        except (FileNotFoundError, StorageError):
            raise
        except IsADirectoryError:
            raise StorageConflictError(
                f"Cannot {action} {key!r}: it is a folder in {self.base_dir}; "
                "choose another key or remove the folder."
            ) from None
        except (NotADirectoryError, FileExistsError):
            raise StorageConflictError(
                f"Cannot {action} {key!r}: a part of it is a file in {self.base_dir}, "
                "so it cannot also be a folder; choose another key."
            ) from None
        except OSError as error:
            if error.errno in _FULL:
                raise StorageUnavailableError(
                    f"Cannot {action} {key!r}: no space left for {self.base_dir}; free some space."
                ) from None
            if error.errno in _REFUSED and action == "read":
                raise StorageAccessError(
                    f"Cannot read {key!r}: the file in {self.base_dir} is not readable "
                    f"({error.strerror}); fix its permissions (the app and this command must "
                    "be able to read it)."
                ) from None
            if error.errno in _REFUSED:
                raise StorageAccessError(
                    f"Cannot {action} {key!r}: {self.base_dir} is not writable "
                    f"({error.strerror}); fix its permissions, or use S3 where the disk is "
                    "read-only."
                ) from None
            if error.errno == errno.ENAMETOOLONG:
                raise UnsafeKeyError(
                    f"Cannot {action} {key!r}: the path is too long for this filesystem; "
                    "use a shorter key."
                ) from None
            raise StorageError(
                f"Cannot {action} {key!r} in {self.base_dir}: {error.strerror}."
            ) from None

    def _ensure_directories(self, keys: list[str]) -> None:
        with self._translate("create the folder", str(self.base_dir)):
            self.base_dir.mkdir(parents=True, exist_ok=True)
        for key in keys:
            with self._translate("create the folder", key):
                self._unlinked_path(key).mkdir(parents=True, exist_ok=True)

    def _save(self, key: str, content: bytes, content_type: str) -> None:
        self._write(key, lambda stream: stream.write(content))

    def _save_stream(
        self,
        key: str,
        stream: Readable,
        content_type: str,
        md5: str | None,
        attributes: ObjectAttributes,
    ) -> None:
        self._write(key, lambda target: shutil.copyfileobj(stream, target, CHUNK_SIZE))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        target = self._unlinked_path(key)
        with self._translate("save", key):
            if target.is_dir():
                raise IsADirectoryError(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write a temporary file beside the target and rename it over: readers never see
            # half a file, and a failure leaves the old one in place.
            descriptor, temporary = tempfile.mkstemp(
                prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-", dir=target.parent
            )
            try:
                with os.fdopen(descriptor, "wb") as stream:
                    fill(stream)
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise

    def _open(self, key: str) -> StoredFile:
        path = self._path(key)
        with self._translate("read", key):
            if not path.is_file():
                raise FileNotFoundError(f"No file stored under {key!r}.")
            stream = path.open("rb")
        size = os.fstat(stream.fileno()).st_size
        return StoredFile(stream, key, size, guess_content_type(key))

    def _info(self, key: str) -> FileInfo:
        path = self._path(key)
        with self._translate("read", key):
            if not path.is_file():
                raise FileNotFoundError(f"No file stored under {key!r}.")
            info = path.stat()
        return FileInfo(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def _md5(self, key: str) -> str | None:
        path = self._path(key)
        with self._translate("read", key):
            if not path.is_file():
                raise FileNotFoundError(f"No file stored under {key!r}.")
            with path.open("rb") as stream:
                return hashlib.file_digest(
                    stream, lambda: hashlib.md5(usedforsecurity=False)
                ).hexdigest()

    def _iter(self, prefix: str) -> Iterator[FileInfo]:
        """Walk in key order: each folder's entries sorted as their keys sort (a folder's
        name followed by '/'), so the listing streams without collecting every key first."""
        base = os.path.realpath(self.base_dir)
        folder = prefix.rpartition("/")[0]
        start = str(self._path(folder)) if folder else base
        if not os.path.isdir(start):
            return
        yield from self._walk_sorted(start, folder, prefix)

    def _walk_sorted(self, directory: str, relative: str, prefix: str) -> Iterator[FileInfo]:
        # A folder that cannot be read is an error, never an empty folder: a migration with
        # --delete would otherwise delete its files' copies in the target.
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except FileNotFoundError:
            return  # removed while the folder above was listed: nothing in it now
        except OSError as error:
            where = f"{relative}/ in {self.base_dir}" if relative else str(self.base_dir)
            raise StorageAccessError(
                f"Cannot list the folder {where} ({error.strerror}): nothing was changed; "
                "let this user read it (or run as its owner), then try again."
            ) from None
        named = []
        for entry in entries:
            if _TEMPORARY_NAME.fullmatch(entry.name) or entry.is_symlink():
                continue
            key = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            named.append((f"{key}/" if is_dir else key, key, is_dir, entry))
        for sort_key, key, is_dir, entry in sorted(named):
            if is_dir:
                # Descend only where a key below could still start with the prefix.
                if sort_key.startswith(prefix) or prefix.startswith(sort_key):
                    yield from self._walk_sorted(entry.path, key, prefix)
            elif key.startswith(prefix) and entry.is_file(follow_symlinks=False):
                try:
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted since the folder was read (the app's users do)
                modified = datetime.fromtimestamp(info.st_mtime, UTC)
                yield FileInfo(key, info.st_size, modified)

    def _read(self, key: str) -> bytes:
        path = self._path(key)
        with self._translate("read", key):
            if not path.is_file():
                raise FileNotFoundError(f"No file stored under {key!r}.")
            return path.read_bytes()

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _delete(self, key: str) -> bool:
        path = self._unlinked_path(key)
        with self._translate("delete", key):
            if not path.is_file():
                return False
            try:
                path.unlink()
            except FileNotFoundError:
                return False
        return True

    def _list(self, prefix: str) -> list[str]:
        base = Path(os.path.realpath(self.base_dir))
        folder = prefix.rpartition("/")[0]
        start = self._path(folder) if folder else base
        if not start.is_dir():
            return []
        keys = []
        for directory, _, names in os.walk(start):
            for name in names:
                path = Path(directory, name)
                if _TEMPORARY_NAME.fullmatch(name) or path.is_symlink():
                    continue
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return keys

    def _url(self, key: str) -> str:
        return f"{self.base_url}/{quote(key, safe='/')}"

    def leftovers(self) -> list[tuple[str, int]]:
        """The temporary files a killed writer left in the folder (its process is gone), as
        (path relative to the folder, size); a write in progress is not one."""
        base = os.path.realpath(self.base_dir)
        found = []
        for directory, _, names in os.walk(base):
            for name in names:
                match = _TEMPORARY_NAME.fullmatch(name)
                path = os.path.join(directory, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if match and _abandoned(match.group(1), info.st_mtime):
                    relative = os.path.relpath(path, base).replace(os.sep, "/")
                    found.append((relative, info.st_size))
        return sorted(found)

    def remove_leftovers(self) -> int:
        """Remove what `leftovers` finds; return how many were removed."""
        base = os.path.realpath(self.base_dir)
        removed = 0
        for relative, _ in self.leftovers():
            try:
                os.unlink(os.path.join(base, relative))
                removed += 1
            except FileNotFoundError:
                continue
        return removed


def _abandoned(pid: str, modified: float) -> bool:
    """Whether a temporary file's writer is gone: its process no longer runs (on POSIX),
    or, where that cannot be asked safely (Windows), the file is a day old."""
    if os.name == "nt":
        return time.time() - modified > _UNOWNED_AGE
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, under another user
    return False
