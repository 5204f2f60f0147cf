"""Validation of storage keys: the one choke point every backend sends keys through."""

from __future__ import annotations

from .errors import UnsafeKeyError

_FORBIDDEN_CHARACTERS = {"\\": "a backslash", "\x00": "a NUL character"}


def clean_key(key: str) -> str:
    """Return `key` if it is a safe, POSIX-style relative path; raise `UnsafeKeyError` otherwise."""
    if not isinstance(key, str) or not key:
        raise UnsafeKeyError("Storage key is empty: use a relative path such as 'photos/a.jpg'.")
    _check_characters(key)
    if key.startswith("/"):
        raise UnsafeKeyError(f"Storage key {key!r} is absolute: drop the leading '/'.")
    segments = key.split("/")
    if ".." in segments:
        raise UnsafeKeyError(f"Storage key {key!r} contains '..': keys cannot leave their base.")
    if any(segment in ("", ".") for segment in segments):
        raise UnsafeKeyError(
            f"Storage key {key!r} has an empty or '.' segment: write it as 'folder/name'."
        )
    return key


def clean_prefix(prefix: str) -> str:
    """Return a listing prefix ('' for everything, 'photos/' or 'photos/a') once it is safe."""
    if prefix == "":
        return ""
    # A trailing slash names a folder; the rest must be a valid key.
    clean_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def _check_characters(key: str) -> None:
    for character, name in _FORBIDDEN_CHARACTERS.items():
        if character in key:
            raise UnsafeKeyError(f"Storage key {key!r} contains {name}: use '/' between folders.")
