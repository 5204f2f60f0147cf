"""The storage interface every backend implements.

Each public method validates its key through `_key` (the shared rules of `clean_key`, then the
backend's own `_check_key`) and then calls one private hook that does the I/O, so no backend
can forget the check and every method applies the same rule.
"""

from __future__ import annotations

import hashlib
import mimetypes
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import BinaryIO, Protocol

from .keys import clean_key, clean_prefix

# Streams move in pieces of this size: memory stays flat whatever the size of the file.
CHUNK_SIZE = 1024 * 1024


class Readable(Protocol):
    """Anything with `read(size)`: an open file, a `StoredFile`, an upload's spooled file."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class FileInfo:
    """What a listing knows of one stored file. `md5` is the hex MD5 of its bytes when the
    backend knows it without reading them (an S3 ETag of a single-part upload), else None."""

    key: str
    size: int
    modified: datetime | None = None
    md5: str | None = None
    # The provider's own tag for these bytes (an S3 ETag), and the tag of the object this one
    # was copied from when a migration recorded it: together they spot an unchanged source.
    etag: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class ObjectAttributes:
    """What an object carries beside its bytes and type, where the backend keeps it (S3)."""

    cache_control: str | None = None
    content_disposition: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class StoredFile:
    """A stored file opened for reading: a binary stream with the file's size and type."""

    def __init__(
        self,
        stream: BinaryIO,
        key: str,
        size: int,
        content_type: str,
        attributes: ObjectAttributes | None = None,
        etag: str | None = None,
    ) -> None:
        self._stream = stream
        self.key = key
        self.size = size
        self.content_type = content_type
        self.attributes = attributes or ObjectAttributes()
        # The provider's tag of the very version being read (an S3 ETag), when it has one.
        self.etag = etag

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    # A local file can seek, which lets an S3 upload read each part when it sends it.
    def seekable(self) -> bool:
        seekable = getattr(self._stream, "seekable", None)
        return bool(seekable and seekable())

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> StoredFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class StorageInterface(ABC):
    """Save, read, list and locate files by key, wherever they are kept."""

    backend_name: str = "storage"

    def ensure_directories(self, *paths: str) -> None:
        """Make sure the given folders exist (a no-op where folders are implicit)."""
        self._ensure_directories([self._key(path.rstrip("/")) for path in paths])

    def save_file(self, content: bytes, path: str, content_type: str | None = None) -> str:
        """Store `content` under `path` (replacing any file there) and return its URL."""
        key = self._key(path)
        self._save(key, bytes(content), content_type or guess_content_type(key))
        return self._url(key)

    def get_file(self, path: str) -> bytes:
        """Return the contents of `path`; raise `FileNotFoundError` when there is none."""
        return self._read(self._key(path))

    def file_exists(self, path: str) -> bool:
        """Tell whether a file is stored under `path`."""
        return self._exists(self._key(path))

    def delete_file(self, path: str) -> bool:
        """Delete `path`; return False when there was nothing to delete."""
        return self._delete(self._key(path))

    def list_files(self, prefix: str = "") -> list[str]:
        """Return every key that starts with `prefix`, sorted."""
        return sorted(self._list(clean_prefix(prefix)))

    def get_file_url(self, path: str) -> str:
        """Return a URL that serves `path`."""
        return self._url(self._key(path))

    # Streaming: files of any size, in constant memory.

    def open_file(self, path: str) -> StoredFile:
        """Open `path` for reading in chunks (use it in `with`); `FileNotFoundError` if absent."""
        return self._open(self._key(path))

    def save_stream(
        self,
        stream: Readable,
        path: str,
        content_type: str | None = None,
        md5: str | None = None,
        attributes: ObjectAttributes | None = None,
    ) -> str:
        """Store what `stream` yields under `path`, read in chunks, and return the URL.

        `md5`, the hex MD5 of the bytes when the caller knows it, is kept with the file where
        the backend cannot tell it otherwise (S3 objects uploaded in parts); `attributes` are
        kept where the backend can hold them.
        """
        key = self._key(path)
        content_type = content_type or guess_content_type(key)
        self._save_stream(key, stream, content_type, md5, attributes or ObjectAttributes())
        return self._url(key)

    def iter_files(self, prefix: str = "") -> Iterator[FileInfo]:
        """Every file under `prefix` with its size and time, in key order, a page at a time."""
        return self._iter(clean_prefix(prefix))

    def file_md5(self, path: str) -> str | None:
        """The hex MD5 of `path`'s bytes: known, or computed by reading it; None if unknowable."""
        return self._md5(self._key(path))

    def file_info(self, path: str) -> FileInfo:
        """What the backend knows of `path` without reading its bytes; `FileNotFoundError` if
        absent."""
        return self._info(self._key(path))

    def _info(self, key: str) -> FileInfo:
        with self._open(key) as stream:
            return FileInfo(key, stream.size)

    def _md5(self, key: str) -> str | None:
        digest = hashlib.md5(usedforsecurity=False)
        with self._open(key) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest()

    def describe(self) -> str:
        """One line naming the backend and where it keeps files (never a secret)."""
        return self.backend_name

    def _key(self, path: str) -> str:
        """The one gate for keys: the rules all backends share, then this backend's own."""
        key = clean_key(path)
        self._check_key(key)
        return key

    def _check_key(self, key: str) -> None:  # noqa: B027 - optional hook
        """Refuse a key this backend cannot hold (beyond the shared rules); raise UnsafeKeyError."""

    def _ensure_directories(self, keys: list[str]) -> None:  # noqa: B027 - optional hook
        """Folders are implicit in most backends: nothing to do."""

    @abstractmethod
    def _save(self, key: str, content: bytes, content_type: str) -> None: ...

    @abstractmethod
    def _read(self, key: str) -> bytes: ...

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _delete(self, key: str) -> bool: ...

    @abstractmethod
    def _list(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def _url(self, key: str) -> str: ...

    @abstractmethod
    def _open(self, key: str) -> StoredFile: ...

    @abstractmethod
    def _save_stream(
        self,
        key: str,
        stream: Readable,
        content_type: str,
        md5: str | None,
        attributes: ObjectAttributes,
    ) -> None: ...

    @abstractmethod
    def _iter(self, prefix: str) -> Iterator[FileInfo]: ...


def guess_content_type(key: str) -> str:
    """Guess a MIME type from the key's extension, falling back to octet-stream."""
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"
