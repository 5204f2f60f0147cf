"""The admin page's actions, for hosts with no shell: seed the sample photos, run the storage
doctor, read the demo-asset drift report. Nothing here changes the demo files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from services.storage import StorageInterface


def admin_context(storage: StorageInterface) -> dict[str, Any]:
    return {"backend": storage.describe(), "drift": drift(), "seeded": None, "steps": None}


def drift() -> dict[str, Any] | str:
    """The demo-asset drift report (`oppdemo diff --json`), read-only."""
    try:
        from oppdemo.assets.commands import diff
        from oppdemo.errors import OppdemoError
    except ImportError:
        return "oppdemo is not installed where the app runs: no drift report here."
    try:
        return diff(Path.cwd()).to_dict()
    except OppdemoError as error:
        return str(error)


def seed(storage: StorageInterface) -> str:
    """Seed the sample photos, as `download-sample-photos` does, and say what happened."""
    from demo_scripts import download_sample_photos as seeding

    catalog = os.environ.get("SAMPLE_PHOTOS_CATALOG")
    try:
        photos = seeding.load_catalog(Path(catalog) if catalog else seeding.DEFAULT_CATALOG)
        report = seeding.seed_photos(photos, storage, seeding.SeedOptions())
    except seeding.CONFIGURATION_ERRORS as error:
        return str(error)
    counts = {
        status: report.count(status) for status in ("downloaded", "skipped", "failed", "copied")
    }
    return ", ".join(f"{count} {status}" for status, count in counts.items() if count) or "nothing"


def doctor() -> list[dict[str, Any]]:
    """The steps of `oppdemo storage check`, with the app's own settings."""
    try:
        import services.storage as package
        from oppdemo.storage import access
        from oppdemo.storage.check import check_storage
    except ImportError:
        return [{"name": "oppdemo", "ok": False, "seconds": 0, "detail": "not installed here"}]
    env = access.current_settings(package, None)
    report = check_storage(package, env)
    return [
        {"name": step.name, "ok": step.ok, "seconds": step.seconds, "detail": step.detail}
        for step in report.steps
    ]
