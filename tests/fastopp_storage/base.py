from abc import ABC, abstractmethod


class StorageInterface(ABC):
    @abstractmethod
    def ensure_directories(self, *paths: str) -> None: ...

    @abstractmethod
    def save_file(self, content: bytes, path: str, content_type: str | None = None) -> str: ...

    @abstractmethod
    def get_file(self, path: str) -> bytes: ...

    @abstractmethod
    def file_exists(self, path: str) -> bool: ...

    @abstractmethod
    def delete_file(self, path: str) -> bool: ...

    @abstractmethod
    def list_files(self, prefix: str = "") -> list[str]: ...

    @abstractmethod
    def get_file_url(self, path: str) -> str: ...
