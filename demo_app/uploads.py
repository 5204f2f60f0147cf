"""What an upload must be to be stored: checked by its bytes, bounded while it is read."""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from typing import BinaryIO

UPLOAD_PREFIX = "uploads/"
SAMPLE_PREFIX = "sample_photos/"
THUMB_PREFIX = "thumbs/"
# Where browsers put direct uploads until the app confirms them: never listed or shown.
INCOMING_PREFIX = "incoming/"
ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
GALLERY_PREFIXES = (SAMPLE_PREFIX, UPLOAD_PREFIX)
_CHUNK = 256 * 1024
# The first bytes of each accepted format: the client's file name and declared type are
# never trusted (an SVG or an HTML page named photo.jpg is refused).
_SIGNATURES = (
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
)


class Rejected(Exception):
    """An upload that is not stored; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Photo:
    """An accepted upload, spooled to a temporary file, with the key it will be stored under."""

    key: str
    content_type: str
    size: int
    stream: BinaryIO


def image_kind(head: bytes) -> tuple[str, str] | None:
    """The extension and MIME type of a JPEG, PNG, WebP or GIF by its first bytes; else None."""
    for signature, extension, mime in _SIGNATURES:
        if head.startswith(signature):
            return extension, mime
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", "image/webp"
    return None


def accept(source: BinaryIO, max_bytes: int) -> Photo:
    """Copy an upload into a temporary file, counting as it goes; `Rejected` with the reason.

    Reading stops as soon as the limit is passed, so an oversized file is never read whole.
    """
    spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - returned
    size = 0
    head = b""
    try:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise Rejected(f"over the {max_bytes / (1024 * 1024):.3g} MB limit")
            if len(head) < 16:
                head = (head + chunk)[:16]
            spooled.write(chunk)
        if size == 0:
            raise Rejected("the file is empty")
        kind = image_kind(head)
        if kind is None:
            raise Rejected("not a JPEG, PNG, WebP or GIF image")
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    extension, mime = kind
    # The key is generated: the client's file name never becomes a path.
    return Photo(f"{UPLOAD_PREFIX}{uuid.uuid4().hex}.{extension}", mime, size, spooled)  # type: ignore[arg-type]
