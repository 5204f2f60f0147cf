"""Load the project's own code (its storage package, demo scripts, demo app) into oppdemo.

A missing module gets a message that tells the truth: "restore brings it back" only when the
manifest lists that code as an asset and the snapshot holds it; otherwise what the project
lacks and what to set or run instead. A third-party package missing where oppdemo runs (boto3
in a tool-only install) is named with the fix.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from oppdemo.errors import OppdemoError


class DemoCodeMissingError(OppdemoError):
    """The project code a command needs is not in the working tree."""


class MissingPackageError(OppdemoError):
    """A package the project's code imports is not installed where oppdemo runs."""


def missing_package(name: str) -> MissingPackageError:
    """The error for a third-party package `name` that the project's code needs."""
    extra = "s3" if name.split(".")[0] in ("boto3", "botocore") else "demo"
    return MissingPackageError(
        f"The project's code needs the package {name.split('.')[0]!r}, which is not installed "
        "where oppdemo runs: run `uv run oppdemo ...` inside the project, or install oppdemo "
        f"with the {extra} extra (`uv tool install 'oppdemo[{extra}] @ <path or git URL>'`)."
    )


def import_project_module(project: Path, name: str, instead: str) -> ModuleType:
    """Import `name` from `project`, never from wherever oppdemo itself was started.

    `instead` says what to do when the project has no such module and it is not a demo asset
    that `restore` could bring back.
    """
    project = project.resolve()
    sys.path[:] = [str(project)] + [
        entry for entry in sys.path if Path(entry or ".").resolve() != project
    ]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or name
        if not _is_project_module(project, missing, name):
            raise missing_package(missing) from None
        raise _missing_code(project, missing, instead) from None
    if not _inside(module, project):
        # Found elsewhere on sys.path: oppdemo's own checkout (on sys.path when oppdemo is
        # installed from it in editable mode) holds demo code too, never the project's.
        for loaded in [key for key in sys.modules if key.split(".")[0] == name.split(".")[0]]:
            del sys.modules[loaded]
        raise _missing_code(project, name.split(".")[0], instead)
    return module


def _inside(module: ModuleType, project: Path) -> bool:
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), "")
    return bool(where) and Path(where).resolve().is_relative_to(project)


def _is_project_module(project: Path, missing: str, wanted: str) -> bool:
    """Whether the module that failed to import is the project's (not a third-party one)."""
    top = missing.split(".")[0]
    return (
        top == wanted.split(".")[0] or (project / top).is_dir() or (project / f"{top}.py").exists()
    )


def _missing_code(project: Path, name: str, instead: str) -> DemoCodeMissingError:
    folder = name.replace(".", "/")
    if _restorable(project, folder):
        return DemoCodeMissingError(
            f"The demo code is gone ({folder}/ is missing): `oppdemo restore` brings it back."
        )
    return DemoCodeMissingError(f"This project has no {folder}/: {instead}")


def _restorable(project: Path, folder: str) -> bool:
    """Whether the manifest lists `folder` (or a folder holding it) and the snapshot has it."""
    from oppdemo.assets.manifest import PYPROJECT, load_manifest

    if not (project / PYPROJECT).is_file():
        return False
    try:
        manifest = load_manifest(project)
    except OppdemoError:
        return False
    for asset in manifest.assets:
        if folder == asset.path or folder.startswith(f"{asset.path}/"):
            saved = project / manifest.saved_path(asset) / folder[len(asset.path) :].lstrip("/")
            return saved.exists() or saved.with_suffix(".py").exists()
    return False
