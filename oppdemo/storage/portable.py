"""The `storage` commands on any storage package with the storage post's seven methods.

This project's package streams (`open_file`, `save_stream`, `iter_files`, `file_md5`); one
with only the seven methods (FastOpp's) gets them here, through `get_file`, `save_file` and
`list_files`: one whole object in memory at a time, so such a package moves objects as large
as this machine's memory allows, and sizes and checksums are found by reading each object.
Every key is checked here before the package sees it: it cannot leave its base folder or
bucket prefix, whatever the package itself checks.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oppdemo.errors import PlanError

STREAMING = ("open_file", "save_stream", "iter_files", "file_md5", "file_info")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# What git needs to keep an empty folder (FastOpp ships static/uploads/.gitkeep): a file of
# the project, not an upload, so never listed, copied or deleted as one.
PLACEHOLDERS = (".gitkeep",)


def is_placeholder(key: str) -> bool:
    """Whether `key` is a folder placeholder of git's, not something users uploaded."""
    return key.rsplit("/", 1)[-1] in PLACEHOLDERS


class UnsafeKey(PlanError):
    """A key that could reach outside the storage's base folder or bucket prefix."""


def safe_key(key: str) -> str:
    """`key` if it is a relative POSIX path inside its base; raise `UnsafeKey` otherwise."""
    segments = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or _CONTROL.search(key)
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise UnsafeKey(
            f"Storage key {key!r} is not a relative path inside the storage: use a key such "
            "as 'photos/a.jpg' (no '..', no leading '/', no backslash)."
        )
    return key


@dataclass(frozen=True)
class FileInfo:
    """What a listing knows of one stored file (as the project package's own FileInfo)."""

    key: str
    size: int
    modified: datetime | None = None
    md5: str | None = None
    etag: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class Attributes:
    cache_control: str | None = None
    content_disposition: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class _Opened(io.BytesIO):
    """A whole object read into memory, with what `open_file` promises beside it."""

    def __init__(self, content: bytes, key: str) -> None:
        super().__init__(content)
        self.key = key
        self.size = len(content)
        guessed, _ = mimetypes.guess_type(key, strict=False)
        self.content_type = guessed or "application/octet-stream"
        self.attributes = Attributes()


def portable(storage: Any) -> Any:
    """`storage` itself when it streams, else a wrapper that adds the streaming methods."""
    if all(callable(getattr(storage, name, None)) for name in STREAMING):
        return storage
    return SevenMethodStorage(storage)


class SevenMethodStorage:
    """A storage with only `save_file`, `get_file`, `file_exists`, `delete_file`,
    `list_files`, `get_file_url` and `ensure_directories`, given the streaming methods."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    def describe(self) -> str:
        own = getattr(self.storage, "describe", None)
        if callable(own):
            return str(own())
        where = getattr(self.storage, "base_path", None) or getattr(self.storage, "bucket", "")
        return f"{type(self.storage).__name__} ({where})" if where else type(self.storage).__name__

    def ensure_directories(self, *paths: str) -> None:
        self.storage.ensure_directories(*(safe_key(path.rstrip("/")) for path in paths))

    def save_file(self, content: bytes, path: str, content_type: str | None = None) -> str:
        return str(self.storage.save_file(content, safe_key(path), content_type))

    def get_file(self, path: str) -> bytes:
        return bytes(self.storage.get_file(safe_key(path)))

    def file_exists(self, path: str) -> bool:
        return bool(self.storage.file_exists(safe_key(path)))

    def delete_file(self, path: str) -> bool:
        return bool(self.storage.delete_file(safe_key(path)))

    def list_files(self, prefix: str = "") -> list[str]:
        return sorted(str(key).replace("\\", "/") for key in self.storage.list_files(prefix))

    def get_file_url(self, path: str) -> str:
        return str(self.storage.get_file_url(safe_key(path)))

    def open_file(self, path: str) -> _Opened:
        return _Opened(self.get_file(path), path)

    def save_stream(
        self,
        stream: Any,
        path: str,
        content_type: str | None = None,
        md5: str | None = None,
        attributes: Any = None,
    ) -> str:
        return self.save_file(stream.read(), path, content_type)

    def iter_files(self, prefix: str = "") -> Iterator[FileInfo]:
        # Sizes and checksums come from the bytes: the seven methods tell nothing else.
        for key in self.list_files(prefix):
            if key.endswith("/"):
                yield FileInfo(key, 0)
                continue
            try:
                content = self.get_file(key)
            except FileNotFoundError:
                continue
            digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
            yield FileInfo(key, len(content), md5=digest)

    def file_md5(self, path: str) -> str:
        return hashlib.md5(self.get_file(path), usedforsecurity=False).hexdigest()

    def file_info(self, path: str) -> FileInfo:
        content = self.get_file(path)
        return FileInfo(
            path, len(content), md5=hashlib.md5(content, usedforsecurity=False).hexdigest()
        )
