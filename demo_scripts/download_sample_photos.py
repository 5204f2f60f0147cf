"""Seed sample photos through the storage factory: a local folder or an S3 bucket alike.

    uv run python oppdemo.py download-sample-photos [--source DIR] [--force] ...

Every photo is written with `get_storage().save_file(...)`, so the backend is whatever the
environment (or `.env`) selects.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from services.storage import StorageError, StorageInterface, get_storage

from .photo_catalog import (
    DEFAULT_CATALOG,
    PhotoConfigError,
    PhotoSource,
    load_catalog,
    photos_in_folder,
)
from .photo_download import DownloadFailed, check_image, fetch_image, http_pool

if TYPE_CHECKING:
    import urllib3

# What `prepare` and `seed_photos` raise, before any download, for a bad setup.
CONFIGURATION_ERRORS = (PhotoConfigError, StorageError)

Status = Literal["downloaded", "copied", "skipped", "failed", "planned"]


@dataclass(frozen=True)
class SeedOptions:
    prefix: str = "sample_photos"
    force: bool = False
    concurrency: int = 4
    timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    dry_run: bool = False
    backoff: float = 0.5


@dataclass(frozen=True)
class PhotoResult:
    name: str
    key: str
    status: Status
    url: str | None = None
    reason: str | None = None


@dataclass
class SeedReport:
    backend: str
    results: list[PhotoResult] = field(default_factory=list)

    def count(self, *statuses: Status) -> int:
        return sum(1 for result in self.results if result.status in statuses)

    @property
    def failed(self) -> list[PhotoResult]:
        return [result for result in self.results if result.status == "failed"]


def prepare(
    catalog: Path | None = None, source: Path | None = None
) -> tuple[StorageInterface, list[PhotoSource]]:
    """The storage the environment selects and the photos to seed (a folder's, or a catalog's)."""
    storage = get_storage()
    photos = photos_in_folder(source) if source else load_catalog(catalog or DEFAULT_CATALOG)
    return storage, photos


def seed_photos(
    photos: list[PhotoSource],
    storage: StorageInterface,
    options: SeedOptions,
    on_result: Callable[[PhotoResult], None] | None = None,
) -> SeedReport:
    """Store each photo under `prefix/name` unless it is there already (or `force`)."""
    if options.concurrency < 1:
        raise PhotoConfigError("--concurrency must be at least 1.")
    prefix = options.prefix.strip("/")
    keys = {photo.name: f"{prefix}/{photo.name}" for photo in photos}
    for key in keys.values():
        storage.get_file_url(key)  # refuses an unsafe prefix or name before any work
    # One listing up front reaches the backend before any download and replaces a check a photo.
    existing = set(storage.list_files(f"{prefix}/"))
    report = SeedReport(storage.describe())
    connections = http_pool(options.concurrency)

    def seed_one(photo: PhotoSource) -> PhotoResult:
        key = keys[photo.name]
        if key in existing and not options.force:
            return PhotoResult(photo.name, key, "skipped", storage.get_file_url(key))
        if options.dry_run:
            return PhotoResult(photo.name, key, "planned", storage.get_file_url(key))
        try:
            content, content_type = _obtain(photo, options, connections)
            url = storage.save_file(content, key, content_type)
        except (DownloadFailed, StorageError, OSError) as error:
            return PhotoResult(photo.name, key, "failed", reason=str(error))
        return PhotoResult(photo.name, key, "copied" if photo.file else "downloaded", url)

    with ThreadPoolExecutor(options.concurrency) as pool:
        futures = {pool.submit(seed_one, photo): index for index, photo in enumerate(photos)}
        ordered: list[PhotoResult | None] = [None] * len(photos)
        for future in as_completed(futures):
            result = future.result()
            ordered[futures[future]] = result
            if on_result:
                on_result(result)
    report.results = [result for result in ordered if result is not None]
    return report


def _obtain(
    photo: PhotoSource, options: SeedOptions, pool: urllib3.PoolManager
) -> tuple[bytes, str]:
    if photo.file is not None:
        try:
            content = photo.file.read_bytes()
        except OSError as error:
            raise DownloadFailed(f"cannot read {photo.file}: {error.strerror}") from None
        return content, check_image(content, options.max_bytes, "the file")
    assert photo.url is not None
    return fetch_image(
        photo.url,
        timeout=options.timeout,
        max_bytes=options.max_bytes,
        backoff=options.backoff,
        pool=pool,
    )
