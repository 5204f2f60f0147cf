"""Storage in a local folder, served as static files by the web app."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from .base import StorageInterface
from .errors import UnsafeKeyError

# Partly written files carry this prefix until they are renamed into place; listings skip them.
_TEMPORARY_PREFIX = ".storage-tmp-"


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

    def _path(self, key: str) -> Path:
        """Join `key` under the base folder, refusing anything that resolves outside it."""
        base = os.path.realpath(self.base_dir)
        # realpath follows symlinks already inside the base, so a link to /etc is caught here.
        target = os.path.realpath(os.path.join(base, key))
        if os.path.commonpath([base, target]) != base or target == base:
            raise UnsafeKeyError(f"Storage key {key!r} resolves outside {self.base_dir}.")
        return Path(target)

    def _ensure_directories(self, keys: list[str]) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        for key in keys:
            self._path(key).mkdir(parents=True, exist_ok=True)

    def _save(self, key: str, content: bytes, content_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file beside the target and rename it over: readers never see half.
        descriptor, temporary = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=target.parent)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(content)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"No file stored under {key!r}.")
        return path.read_bytes()

    def _exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except (FileNotFoundError, IsADirectoryError):
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
                if name.startswith(_TEMPORARY_PREFIX) or path.is_symlink():
                    continue
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return keys

    def _url(self, key: str) -> str:
        return f"{self.base_url}/{quote(key, safe='/')}"
