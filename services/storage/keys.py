"""Validation of storage keys: the one choke point every backend sends keys through.

`clean_key` holds the rules every backend shares, so a key means the same everywhere;
`check_local_key` adds what a local filesystem of the running system cannot store.
"""

from __future__ import annotations

import os
import re

from .errors import UnsafeKeyError

# S3's limit for an object key, in UTF-8 bytes; the same limit everywhere keeps keys portable.
MAX_KEY_BYTES = 1024
# The longest file or folder name most filesystems take (ext4, APFS, NTFS), in bytes.
MAX_SEGMENT_BYTES = 255

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?", re.IGNORECASE)
_WINDOWS_FORBIDDEN = set('<>:"|?*')


def clean_key(key: str) -> str:
    """Return `key` if it is a safe, POSIX-style relative path; raise `UnsafeKeyError` otherwise."""
    if not isinstance(key, str) or not key:
        raise UnsafeKeyError("Storage key is empty: use a relative path such as 'photos/a.jpg'.")
    control = _CONTROL.search(key)
    if control:
        raise UnsafeKeyError(
            f"Storage key {key!r} contains a control character (U+{ord(control.group()):04X}): "
            "use printable characters only."
        )
    if "\\" in key:
        raise UnsafeKeyError(f"Storage key {key!r} contains a backslash: use '/' between folders.")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        # A file name of bytes that are not UTF-8 (Python hands them over as lone surrogates):
        # S3 keys are UTF-8, so such a name cannot be stored anywhere as it is.
        as_bytes = repr(key.encode("utf-8", "surrogateescape"))[1:]
        raise UnsafeKeyError(
            f"Storage key {as_bytes} is not valid UTF-8 (a file name in another encoding): "
            "rename the file in UTF-8 (convmv -f latin1 -t utf8 does it for Latin-1 names)."
        ) from None
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise UnsafeKeyError(
            f"Storage key {key[:40]!r}… is {size} bytes long: keys may hold at most "
            f"{MAX_KEY_BYTES} bytes of UTF-8 (S3's limit); shorten it."
        )
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


def check_local_key(key: str, windows: bool = os.name == "nt") -> None:
    """Refuse a (clean) key that a local filesystem of this system cannot hold as a path."""
    for segment in key.split("/"):
        size = len(segment.encode("utf-8", "surrogatepass"))
        if size > MAX_SEGMENT_BYTES:
            raise UnsafeKeyError(
                f"Storage key {key[:40]!r}… has a name of {size} bytes: a file or folder name on "
                f"disk may hold at most {MAX_SEGMENT_BYTES}; shorten it."
            )
        if not windows:
            continue
        if _WINDOWS_RESERVED.fullmatch(segment):
            raise UnsafeKeyError(
                f"Storage key {key!r} uses {segment!r}, a name Windows reserves for a device: "
                "rename it."
            )
        if segment.endswith((".", " ")):
            raise UnsafeKeyError(
                f"Storage key {key!r} has a name ending in a dot or a space ({segment!r}), "
                "which Windows drops: rename it."
            )
        forbidden = sorted(_WINDOWS_FORBIDDEN.intersection(segment))
        if forbidden:
            raise UnsafeKeyError(
                f"Storage key {key!r} contains {' '.join(forbidden)}, which Windows does not "
                "allow in file names: rename it."
            )


def clean_prefix(prefix: str) -> str:
    """Return a listing prefix ('' for everything, 'photos/' or 'photos/a') once it is safe."""
    if prefix == "":
        return ""
    if prefix.startswith("/"):
        raise UnsafeKeyError(
            f"Prefix {prefix!r} is absolute: keys are relative, so drop the leading '/' "
            "(give no prefix to list every key)."
        )
    # A trailing slash names a folder; the rest must be a valid key.
    clean_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix
