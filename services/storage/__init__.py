"""One storage interface for uploads: a local folder in development, S3 in production.

from services.storage import get_storage
url = get_storage().save_file(content, "photos/a.jpg", "image/jpeg")
"""

from .base import StorageInterface
from .config import S3Settings
from .errors import (
    StorageAccessError,
    StorageConfigError,
    StorageConflictError,
    StorageError,
    StorageUnavailableError,
    UnsafeKeyError,
)
from .factory import get_storage
from .filesystem import FilesystemStorage
from .memory import MemoryStorage
from .s3 import S3Storage

__all__ = [
    "FilesystemStorage",
    "MemoryStorage",
    "S3Settings",
    "S3Storage",
    "StorageAccessError",
    "StorageConfigError",
    "StorageConflictError",
    "StorageError",
    "StorageInterface",
    "StorageUnavailableError",
    "UnsafeKeyError",
    "get_storage",
]
