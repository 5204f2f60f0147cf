"""What the demo stores and shows: a photo and its thumbnail, a confirmed direct upload, the
gallery."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from services.storage import StorageError, StorageInterface
from services.storage.base import ObjectAttributes

from .photos import clean_photo
from .uploads import (
    GALLERY_PREFIXES,
    INCOMING_PREFIX,
    THUMB_PREFIX,
    UPLOAD_PREFIX,
    Rejected,
    accept,
)


def store_photo(
    storage: StorageInterface, source: Any, max_bytes: int, ident: str | None = None
) -> tuple[str, str]:
    """Check, clean and store one upload and its thumbnail; the photo's URL and key."""
    accepted = accept(source, max_bytes)
    try:
        photo = clean_photo(accepted.stream)  # type: ignore[arg-type]
    finally:
        accepted.stream.close()
    ident = ident or accepted.key.removeprefix(UPLOAD_PREFIX).rpartition(".")[0]
    key = f"{UPLOAD_PREFIX}{ident}.{photo.extension}"
    inline = ObjectAttributes(content_disposition=f'inline; filename="{ident}.{photo.extension}"')
    url = storage.save_stream(io.BytesIO(photo.data), key, photo.content_type, None, inline)
    storage.save_stream(io.BytesIO(photo.thumbnail), thumb_key(key), "image/webp")
    return url, key


def confirm_upload(storage: StorageInterface, ident: str, max_bytes: int) -> tuple[str, str]:
    """Store the checked, cleaned photo of `incoming/<ident>`; the incoming object is deleted
    whatever the outcome (a refused one too)."""
    incoming = f"{INCOMING_PREFIX}{ident}"
    try:
        if storage.list_files(f"{UPLOAD_PREFIX}{ident}."):
            # A signed form stays valid for minutes: a second post under a confirmed id
            # never replaces the stored photo.
            raise Rejected("this upload was already confirmed")
        with storage.open_file(incoming) as stream:
            if stream.size > max_bytes:
                raise Rejected(f"over the {max_bytes / (1024 * 1024):.3g} MB limit")
            return store_photo(storage, stream, max_bytes, ident)
    finally:
        # If this fails, prune-incoming and the bucket's lifecycle rule remove it later.
        with contextlib.suppress(StorageError):
            storage.delete_file(incoming)


def thumb_key(key: str) -> str:
    ident = key.removeprefix(UPLOAD_PREFIX).rpartition(".")[0]
    return f"{THUMB_PREFIX}{ident}.webp"


def gallery(storage: StorageInterface) -> tuple[list[dict[str, Any]], str | None]:
    """The seeded and uploaded photos with their URLs (and thumbnails), or the storage's
    error in one sentence."""
    photos = []
    try:
        thumbs = {info.key for info in storage.iter_files(THUMB_PREFIX)}
        for prefix in GALLERY_PREFIXES:
            for info in storage.iter_files(prefix):
                thumb = thumb_key(info.key) if info.key.startswith(UPLOAD_PREFIX) else None
                url = storage.get_file_url(info.key)
                photos.append(
                    {
                        "key": info.key,
                        "url": url,
                        "thumb": storage.get_file_url(thumb) if thumb in thumbs else url,
                        "size": info.size,
                        "deletable": info.key.startswith(UPLOAD_PREFIX),
                    }
                )
    except StorageError as error:
        return [], f"The storage could not be read: {error}"
    return photos, None
