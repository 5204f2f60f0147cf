"""`storage prune-incoming`: remove direct uploads that were never confirmed.

A browser that posts a photo to the bucket and goes away leaves it under `incoming/`, where
the app never shows or serves it. These are removed once older than a given age (a bucket's
lifecycle rule can do the same without this command).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

INCOMING_PREFIX = "incoming/"


def stale_uploads(
    storage: Any,
    older_than_hours: float,
    prefix: str = INCOMING_PREFIX,
    now: datetime | None = None,
) -> tuple[list[Any], list[str]]:
    """The objects under `prefix` last written more than `older_than_hours` ago, and the
    folder markers there (zero-byte keys ending in '/', an S3 console's "Create folder"),
    which are no upload and are never deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=older_than_hours)
    stale, markers = [], []
    for info in storage.iter_files(prefix):
        if info.key.endswith("/"):
            markers.append(info.key)
        elif info.modified is not None and info.modified < cutoff:
            stale.append(info)
    return stale, markers
