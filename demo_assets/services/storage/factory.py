"""Build the storage backend that the environment (and `.env`) describes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .base import StorageInterface
from .config import FilesystemSettings, MemorySettings, read_settings


def storage_environment(dotenv_path: str | os.PathLike[str] = ".env") -> dict[str, str]:
    """Return the variables of `dotenv_path` overlaid with the real environment (which wins)."""
    merged: dict[str, str] = {}
    if Path(dotenv_path).is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ)
    return merged


def get_storage(
    env: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike[str] = ".env"
) -> StorageInterface:
    """Return the backend chosen by `STORAGE_TYPE`: filesystem (default), s3 or memory.

    `env` replaces the environment and `.env` when given (handy in tests).
    """
    settings = read_settings(storage_environment(dotenv_path) if env is None else env)
    if isinstance(settings, FilesystemSettings):
        from .filesystem import FilesystemStorage

        return FilesystemStorage(settings.upload_dir, settings.upload_url)
    if isinstance(settings, MemorySettings):
        from .memory import MemoryStorage

        return MemoryStorage(settings.upload_url)
    from .s3 import S3Storage

    return S3Storage(settings)
