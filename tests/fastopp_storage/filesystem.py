from pathlib import Path
from urllib.parse import quote

from .base import StorageInterface


class FilesystemStorage(StorageInterface):
    def __init__(self, base_path: str = "static/uploads") -> None:
        self.base_path = Path(base_path)
        self.base_path.mkdir(parents=True, exist_ok=True)

    def ensure_directories(self, *paths: str) -> None:
        for path in paths:
            (self.base_path / path).mkdir(parents=True, exist_ok=True)

    def save_file(self, content: bytes, path: str, content_type: str | None = None) -> str:
        target = self.base_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        return self.get_file_url(path)

    def get_file(self, path: str) -> bytes:
        target = self.base_path / path
        if not target.is_file():
            raise FileNotFoundError(f"File not found: {path}")
        return target.read_bytes()

    def file_exists(self, path: str) -> bool:
        return (self.base_path / path).is_file()

    def delete_file(self, path: str) -> bool:
        target = self.base_path / path
        if not target.is_file():
            return False
        target.unlink()
        return True

    def list_files(self, prefix: str = "") -> list[str]:
        return [
            path.relative_to(self.base_path).as_posix()
            for path in self.base_path.rglob("*")
            if path.is_file() and path.relative_to(self.base_path).as_posix().startswith(prefix)
        ]

    def get_file_url(self, path: str) -> str:
        return f"/static/uploads/{quote(path, safe='/')}"
