"""Open the project's upload storage for the `storage` commands, from its settings files.

The storage package is the project's own `services/storage` (demo code that `destroy` removes),
loaded from the project. Objects that a command overwrites or removes are first copied into
`<backups>/storage/<time>/` (the manifest's backups folder), so nothing stored is lost to a
mistyped key or a wrong `--delete`.
"""

from __future__ import annotations

import importlib
import os
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .demo_code import import_demo_module
from .errors import OppdemoError
from .manifest import PYPROJECT, load_manifest

if TYPE_CHECKING:
    from services.storage import StorageInterface


class SettingsFileError(OppdemoError):
    """A settings file named on the command line is missing or unreadable."""


def storage_package(project: Path) -> ModuleType:
    return import_demo_module(project, "services.storage")


def current_settings(package: ModuleType, env_file: Path | None) -> dict[str, str]:
    """What `get_storage()` reads: the real environment over `.env` (or over `env_file`)."""
    if env_file is not None and not env_file.is_file():
        raise SettingsFileError(
            f"There is no settings file {env_file}: check the path given to --env-file."
        )
    factory: Any = importlib.import_module(f"{package.__name__}.factory")
    merged: dict[str, str] = factory.storage_environment(env_file or ".env")
    return merged


def file_settings(path: Path) -> dict[str, str]:
    """The settings in one dotenv file alone (a migration's source or target)."""
    if not path.is_file():
        raise SettingsFileError(
            f"There is no settings file {path}: give a dotenv file holding a storage "
            "configuration (see example.env), such as .env.production."
        )
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsFileError(f"Cannot read {path} ({error}): fix the file.") from None
    return {key: value for key, value in values.items() if value is not None}


def backups_folder(project: Path) -> Path:
    """The manifest's backups folder (`backups` in a project without a pyproject.toml)."""
    if not (project / PYPROJECT).is_file():
        return project / "backups"
    return project / load_manifest(project).backups


class ObjectBackup:
    """Local copies of stored objects, taken just before a command replaces or deletes them,
    in `<backups>/storage/<time>/` (the manifest's backups folder)."""

    def __init__(self, package: ModuleType, project: Path) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        self.folder = backups_folder(project) / "storage" / stamp
        self._store: StorageInterface = package.FilesystemStorage(self.folder)
        self.kept = 0

    def keep(self, storage: StorageInterface, key: str) -> None:
        """Copy `key` out of `storage`; an object already gone needs no copy."""
        try:
            with storage.open_file(key) as stream:
                self._store.save_stream(stream, key, stream.content_type)
        except FileNotFoundError:
            return
        self.kept += 1

    def where(self, project: Path) -> str:
        return os.path.relpath(self.folder, project)
