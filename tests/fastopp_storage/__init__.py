from .base import StorageInterface
from .factory import get_storage

__all__ = ["StorageInterface", "get_storage"]
