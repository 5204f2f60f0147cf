"""oppdemo: keep a FastOpp-style project's demo files in step with their saved snapshot, and
look into, check and migrate its upload storage.

The CLI (`oppdemo`, `oppdemo.cli`) is a thin layer over these functions, which tests and other
tools can call directly: `oppdemo.assets` (the asset engine), `oppdemo.storage` (the storage
tooling).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oppdemo.assets.backups import BackupSummary, Record
    from oppdemo.assets.commands import Outcome, backups, destroy, diff, restore, save, undo
    from oppdemo.assets.compare import AssetDrift, DriftReport
    from oppdemo.assets.manifest import Asset, Manifest, load_manifest
    from oppdemo.assets.plan import Operation, Plan
    from oppdemo.errors import (
        EXIT_DRIFT,
        EXIT_ERROR,
        EXIT_OK,
        BackupError,
        LockedError,
        ManifestError,
        OppdemoError,
        PlanError,
    )

# The public names and the module that defines each. They are imported on first use, so that
# `oppdemo.py --help` does not pay for machinery the command will not run.
__version__ = "0.2.0"

_EXPORTS = {
    "Asset": "assets.manifest",
    "AssetDrift": "assets.compare",
    "BackupError": "errors",
    "BackupSummary": "assets.backups",
    "DriftReport": "assets.compare",
    "EXIT_DRIFT": "errors",
    "EXIT_ERROR": "errors",
    "EXIT_OK": "errors",
    "LockedError": "errors",
    "Manifest": "assets.manifest",
    "ManifestError": "errors",
    "Operation": "assets.plan",
    "OppdemoError": "errors",
    "Outcome": "assets.commands",
    "Plan": "assets.plan",
    "PlanError": "errors",
    "Record": "assets.backups",
    "backups": "assets.commands",
    "destroy": "assets.commands",
    "diff": "assets.commands",
    "load_manifest": "assets.manifest",
    "restore": "assets.commands",
    "save": "assets.commands",
    "undo": "assets.commands",
}

__all__ = [
    "EXIT_DRIFT",
    "EXIT_ERROR",
    "EXIT_OK",
    "Asset",
    "AssetDrift",
    "BackupError",
    "BackupSummary",
    "DriftReport",
    "LockedError",
    "Manifest",
    "ManifestError",
    "Operation",
    "OppdemoError",
    "Outcome",
    "Plan",
    "PlanError",
    "Record",
    "backups",
    "destroy",
    "diff",
    "load_manifest",
    "restore",
    "save",
    "undo",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'oppdemo' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
