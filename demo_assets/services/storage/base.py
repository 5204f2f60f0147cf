"""The storage interface every backend implements.

Each public method validates its key through `_key` (the shared rules of `clean_key`, then the
backend's own `_check_key`) and then calls one private hook that does the I/O, so no backend
can forget the check and every method applies the same rule.
"""

from __future__ import annotations

import mimetypes
from abc import ABC, abstractmethod

from .keys import clean_key, clean_prefix


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


def guess_content_type(key: str) -> str:
    """Guess a MIME type from the key's extension, falling back to octet-stream."""
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"
