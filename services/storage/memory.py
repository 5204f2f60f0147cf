"""Storage in a dictionary: for the tests of applications that use this package."""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import quote

from .base import FileInfo, ObjectAttributes, Readable, StorageInterface, StoredFile


class MemoryStorage(StorageInterface):
    """Keep files in memory; nothing survives the process."""

    backend_name = "memory"

    def __init__(self, base_url: str = "/memory") -> None:
        self.base_url = base_url.rstrip("/")
        self.files: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}

    def _save(self, key: str, content: bytes, content_type: str) -> None:
        self.files[key] = content
        self.content_types[key] = content_type

    def _read(self, key: str) -> bytes:
        try:
            return self.files[key]
        except KeyError:
            raise FileNotFoundError(f"No file stored under {key!r}.") from None

    def _exists(self, key: str) -> bool:
        return key in self.files

    def _delete(self, key: str) -> bool:
        self.content_types.pop(key, None)
        return self.files.pop(key, None) is not None

    def _list(self, prefix: str) -> list[str]:
        return [key for key in self.files if key.startswith(prefix)]

    def _url(self, key: str) -> str:
        return f"{self.base_url}/{quote(key, safe='/')}"

    def _open(self, key: str) -> StoredFile:
        content = self._read(key)
        return StoredFile(io.BytesIO(content), key, len(content), self.content_types[key])

    def _save_stream(
        self,
        key: str,
        stream: Readable,
        content_type: str,
        md5: str | None,
        attributes: ObjectAttributes,
    ) -> None:
        self._save(key, stream.read(), content_type)

    def _iter(self, prefix: str) -> Iterator[FileInfo]:
        for key in sorted(self._list(prefix)):
            yield FileInfo(key, len(self.files[key]))
