"""Where the page's photos come from and where its direct uploads go: the origins its
Content-Security-Policy must allow, taken from the storage's own URL code so they cannot
disagree with the URLs the app hands out."""

from __future__ import annotations

from urllib.parse import urlsplit

from services.storage import StorageError, StorageInterface

from .uploads import INCOMING_PREFIX, SAMPLE_PREFIX, UPLOAD_PREFIX


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute URL; None for a relative one (the app's own)."""
    parts = urlsplit(url)
    if not (parts.scheme and parts.hostname):
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host.lower()}{port}"


def image_origins(storage: StorageInterface) -> tuple[str, ...]:
    """The origins of the URLs the storage gives photos, samples and thumbnails (a bucket, a
    CDN, a presigned host); empty when they are the app's own."""
    found: list[str] = []
    for key in (f"{UPLOAD_PREFIX}probe.jpg", f"{SAMPLE_PREFIX}probe.jpg"):
        try:
            origin = origin_of(storage.get_file_url(key))
        except StorageError:
            continue
        if origin and origin not in found:
            found.append(origin)
    return tuple(found)


def upload_origins(storage: StorageInterface) -> tuple[str, ...]:
    """The origin a browser's direct upload is posted to: a form signed once, here, by the
    same call that signs the real ones (signing is local, nothing is sent to the bucket)."""
    sign = getattr(storage, "presigned_post", None)
    if not callable(sign):
        return ()
    try:
        form = sign(f"{INCOMING_PREFIX}csp-probe", "image/jpeg", 1, 60)
    except StorageError:
        return ()
    origin = origin_of(str(form.get("url", "")))
    return (origin,) if origin else ()
