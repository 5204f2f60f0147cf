"""Exceptions raised by the storage package."""

from __future__ import annotations


class StorageError(Exception):
    """Base class for every error the storage package raises on purpose."""


class UnsafeKeyError(StorageError, ValueError):
    """A key is empty, absolute, climbs out of its base, or holds a forbidden character."""


class StorageConflictError(StorageError):
    """A key collides with what is stored: it names a folder, or runs through a file."""


class StorageConfigError(StorageError):
    """The environment does not describe a usable storage backend."""


class StorageUnavailableError(StorageError):
    """The storage service could not be reached or answered with a server error."""


class StorageAccessError(StorageError):
    """The storage service refused the credentials or the request.

    `code` is the provider's error code when there is one (`InvalidAccessKeyId`,
    `AccessDenied`, ...), so a caller can tell bad keys from missing permissions.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
