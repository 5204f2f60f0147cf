"""oppdemo's core: keep a project's demo files in step with their saved snapshot.

The CLI in `oppdemo.py` is a thin layer over these functions, which tests and other tools can
call directly.
"""

from .backups import BackupSummary, Record
from .commands import Outcome, backups, destroy, diff, restore, save, undo
from .compare import AssetDrift, DriftReport
from .errors import (
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_OK,
    BackupError,
    LockedError,
    ManifestError,
    OppdemoError,
    PlanError,
)
from .manifest import Asset, Manifest, load_manifest
from .plan import Operation, Plan

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
