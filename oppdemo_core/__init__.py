"""oppdemo's core: keep a project's demo files in step with their saved snapshot.

The CLI in `oppdemo.py` is a thin layer over these functions, which tests and other tools can
call directly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# The public names and the module that defines each. They are imported on first use, so that
# `oppdemo.py --help` does not pay for machinery the command will not run.
_EXPORTS = {
    "Asset": "manifest",
    "AssetDrift": "compare",
    "BackupError": "errors",
    "BackupSummary": "backups",
    "DriftReport": "compare",
    "EXIT_DRIFT": "errors",
    "EXIT_ERROR": "errors",
    "EXIT_OK": "errors",
    "LockedError": "errors",
    "Manifest": "manifest",
    "ManifestError": "errors",
    "Operation": "plan",
    "OppdemoError": "errors",
    "Outcome": "commands",
    "Plan": "plan",
    "PlanError": "errors",
    "Record": "backups",
    "backups": "commands",
    "destroy": "commands",
    "diff": "commands",
    "load_manifest": "manifest",
    "restore": "commands",
    "save": "commands",
    "undo": "commands",
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
        raise AttributeError(f"module 'oppdemo_core' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
