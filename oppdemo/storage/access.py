"""Open the project's upload storage for the `storage` commands, from its settings files.

The storage package is the project's own, wherever it lives: `[tool.oppdemo] storage` names
the module that provides `get_storage()` (`services.storage` by default; FastOpp keeps it in
`core.services.storage`). Objects that a command overwrites or removes are first copied into
`<backups>/storage/<time>/` (the manifest's backups folder), so nothing stored is lost to a
mistyped key or a wrong `--delete`.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from oppdemo.assets.manifest import DEFAULT_STORAGE, PYPROJECT, load_manifest
from oppdemo.errors import OppdemoError
from oppdemo.pause import pause_point
from oppdemo.project_code import import_project_module, missing_module, project_of
from oppdemo.storage.leftovers import remove_stale_temporaries, temporary_file
from oppdemo.storage.portable import portable, safe_key

# The variables a storage factory that reads os.environ may look at.
_STORAGE_VARIABLES = ("STORAGE_TYPE", "UPLOAD_")
_ENVIRONMENT_LOCK = threading.Lock()
_CHUNK = 1024 * 1024


class SettingsFileError(OppdemoError):
    """A settings file named on the command line is missing or unreadable."""


def storage_module(project: Path) -> str:
    """The module named by `[tool.oppdemo] storage` (`services.storage` by default)."""
    if not (project / PYPROJECT).is_file():
        return DEFAULT_STORAGE
    return load_manifest(project).storage


def storage_package(project: Path) -> ModuleType:
    name = storage_module(project)
    return import_project_module(
        project,
        name,
        "the storage commands use the module that provides get_storage(): set "
        '[tool.oppdemo] storage = "..." in pyproject.toml to where it lives (FastOpp: '
        '"core.services.storage"; `oppdemo init` finds it).',
    )


def storage_errors(package: ModuleType) -> tuple[type[BaseException], ...]:
    """What the package raises for a storage failure: its own base error, or (for a package
    without one, as FastOpp's) the RuntimeError and ValueError it uses; and OSError."""
    own = getattr(package, "StorageError", None)
    if isinstance(own, type) and issubclass(own, Exception):
        return (own, OSError)
    return (RuntimeError, ValueError, OSError)


def open_storage(package: ModuleType, env: Mapping[str, str]) -> Any:
    """The storage `env` selects, with the streaming methods the commands use.

    A `get_storage()` that takes no settings (FastOpp's reads os.environ) is called with the
    storage variables of the environment replaced by those of `env`.
    """
    get_storage = package.get_storage
    try:
        if inspect.signature(get_storage).parameters:
            storage = get_storage(env)
        else:
            with _environment(env):
                storage = get_storage()
    except ImportError as error:
        raise _missing(error, package) from None
    return portable(storage)


def _missing(error: ImportError, package: ModuleType) -> OppdemoError:
    """The one sentence for a module the project's storage code imports and cannot find."""
    from oppdemo.project_code import missing_package

    project = project_of(package)
    if project is None:
        return missing_package(error.name or "boto3")
    return missing_module(error, project)


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    def ours(name: str) -> bool:
        return name.startswith(("S3_", *_STORAGE_VARIABLES))

    with _ENVIRONMENT_LOCK:
        saved = {name: value for name, value in os.environ.items() if ours(name)}
        for name in saved:
            del os.environ[name]
        os.environ.update({name: value for name, value in env.items() if ours(name)})
        try:
            yield
        finally:
            for name in [name for name in os.environ if ours(name)]:
                del os.environ[name]
            os.environ.update(saved)


def current_settings(package: ModuleType, env_file: Path | None) -> dict[str, str]:
    """What `get_storage()` reads: the real environment over `.env` (or over `env_file`)."""
    if env_file is not None and not env_file.is_file():
        raise SettingsFileError(
            f"There is no settings file {env_file}: check the path given to --env-file."
        )
    merged = file_settings(env_file) if env_file else _dotenv(Path(".env"))
    merged.update(os.environ)
    return merged


def _dotenv(path: Path) -> dict[str, str]:
    return file_settings(path) if path.is_file() else {}


def file_settings(path: Path, storage_required: bool = False) -> dict[str, str]:
    """The settings in one dotenv file alone; with `storage_required` (a migration's source
    or target, read alone), one that sets no storage variable is refused."""
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
    settings = {key: value for key, value in values.items() if value is not None}
    storage_set = any(key.startswith(("STORAGE_", "UPLOAD_", "S3_")) for key in settings)
    if storage_required and not storage_set:
        # Empty, or all commented out: it would silently mean the default static/uploads.
        raise SettingsFileError(
            f"{path} sets no storage variable (STORAGE_TYPE, UPLOAD_DIR, S3_...): write the "
            "storage's settings into it (see example.env)."
        )
    s3_set = sorted(key for key in settings if key.startswith("S3_"))
    if storage_required and s3_set and not settings.get("STORAGE_TYPE", "").strip():
        # S3 variables without STORAGE_TYPE would silently mean the default folder.
        raise SettingsFileError(
            f"{path} sets {s3_set[0]} but not STORAGE_TYPE: add STORAGE_TYPE=s3 to it (or "
            "STORAGE_TYPE=filesystem if the S3 variables are left over)."
        )
    return settings


def backups_folder(project: Path) -> Path:
    """The manifest's backups folder (`backups` in a project without a pyproject.toml)."""
    if not (project / PYPROJECT).is_file():
        return project / "backups"
    return project / load_manifest(project).backups


class BackupFailed(OppdemoError):
    """No copy of an object could be kept: it is left in place, unchanged."""

    def __init__(self, key: str, folder: Path, error: OSError) -> None:
        reason = error.strerror or str(error)
        if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            fix = "free space there, or name another folder in [tool.oppdemo] backups"
        elif error.errno == errno.ENAMETOOLONG:
            fix = (
                "a name in the key is longer than this disk allows: rename the object, or "
                "name a folder on another filesystem in [tool.oppdemo] backups"
            )
        elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = (
                f"make {folder.parent} writable (check its permissions, and `lsattr` for an "
                "immutable flag), or name another folder in [tool.oppdemo] backups"
            )
        else:
            fix = "fix that folder, or name another folder in [tool.oppdemo] backups"
        super().__init__(
            f"Cannot keep a copy of {key!r} in {folder} ({reason}), so it was left "
            f"unchanged: {fix}."
        )


class ObjectBackup:
    """Local copies of stored objects, taken just before a command replaces or deletes them,
    in `<backups>/storage/<time>/` (the manifest's backups folder)."""

    def __init__(self, project: Path, *settings: Mapping[str, str]) -> None:
        """`settings` are those of the storages the command changes or reads: the backups
        folder must lie outside their upload folders."""
        from oppdemo.storage.location import refuse_backups_overlap, storage_location

        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        base = backups_folder(project)
        places = [storage_location(env, project) for env in settings]
        refuse_backups_overlap(base, *places)
        for folder in (base, base / "storage"):
            if folder.exists() and not folder.is_dir():
                raise SettingsFileError(
                    f"{folder} is a file, so no backup can be kept there: move it away, or "
                    "name another folder in [tool.oppdemo] backups. Nothing was changed."
                )
        self.folder = base / "storage" / stamp
        # Where copies went: more than one folder when a key is also a prefix ("f", "f/g").
        self.folders: list[Path] = [self.folder]
        self.kept = 0
        self._lock = threading.Lock()
        self._swept = False

    def _place(self, key: str) -> Path:
        """A path for `key`'s copy where no earlier copy is in the way: an object `f` and an
        object `f/g.jpg` cannot both be files of one folder, so the second goes to the next."""
        parts = safe_key(key).split("/")
        with self._lock:
            for index in range(len(self.folders) + 1):
                if index == len(self.folders):
                    self.folders.append(self.folder.with_name(f"{self.folder.name}-{index + 1}"))
                root = self.folders[index]
                ancestors = [root.joinpath(*parts[:depth]) for depth in range(1, len(parts))]
                path = root.joinpath(*parts)
                if not any(ancestor.is_file() for ancestor in ancestors) and not path.is_dir():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    return path
        raise AssertionError("unreachable: a new folder always has room")

    def keep(self, storage: Any, key: str) -> None:
        """Copy `key` out of `storage`, with its type and attributes beside it (see
        `headers_path`); an object already gone needs no copy. A copy that cannot be
        written raises `BackupFailed`: the object must then stay where it is."""
        try:
            opened = storage.open_file(key)
        except FileNotFoundError:
            return
        with opened as stream:
            self._sweep()
            path = self._place(key)
            _write_whole(path, key, self.folder, lambda output: _copy_out(stream, output, key,
                                                                          self.folder))  # fmt: skip
            attributes = getattr(stream, "attributes", None)
            headers = {
                "key": key,
                "size": getattr(stream, "size", None),
                "content_type": getattr(stream, "content_type", None),
                "cache_control": getattr(attributes, "cache_control", None),
                "content_disposition": getattr(attributes, "content_disposition", None),
                "metadata": dict(getattr(attributes, "metadata", None) or {}),
            }
            text = json.dumps(headers, indent=2, sort_keys=True) + "\n"
            sidecar = headers_path(path, self._root_of(path), key)
            _write_whole(sidecar, key, self.folder, lambda output: output.write(text.encode()))
        with self._lock:
            self.kept += 1

    def _sweep(self) -> None:
        """Before the first copy (never on a dry run): remove the half-written copies of a
        killed command, whose writer is gone."""
        with self._lock:
            if self._swept:
                return
            self._swept = True
            base = self.folder.parent.parent
            for folder in (base / "storage", base / HEADERS_FOLDER):
                if folder.is_dir():
                    remove_stale_temporaries(folder, _KEEP_PREFIX, recursive=True)

    def _root_of(self, path: Path) -> Path:
        for root in self.folders:
            if path.is_relative_to(root):
                return root
        raise AssertionError("a copy is always placed in one of the folders")

    def restore_command(self, project: Path) -> str:
        """The command that puts the copies back, folders relative to the project."""
        import shlex

        used = [folder for folder in self.folders if folder.exists()] or [self.folder]
        names = [shlex.quote(os.path.relpath(folder, project)) for folder in used]
        return f"oppdemo storage restore-backup {' '.join(names)}"

    def where(self, project: Path) -> str:
        """The folder(s) that hold the copies, relative to the project."""
        used = [folder for folder in self.folders if folder.exists()] or [self.folder]
        return "/, ".join(os.path.relpath(folder, project) for folder in used)


# A copy's type, Content-Disposition, Cache-Control and metadata are kept as JSON in a tree
# beside the copies' own (`<backups>/storage-headers/<time>/<key>.json`): inside the copies'
# folder, any name could also be a stored key's.
HEADERS_FOLDER = "storage-headers"
_KEEP_PREFIX = ".keep-"


def headers_path(copy: Path, root: Path, key: str) -> Path:
    """Where the headers of `key`'s copy at `copy` (under the backup folder `root`) are."""
    return headers_root(root).joinpath(*key.split("/")).with_name(f"{copy.name}.json")


def headers_root(root: Path) -> Path:
    """The folder of headers of the backup folder `root` (`storage/<time>` →
    `storage-headers/<time>`)."""
    return root.parent.with_name(HEADERS_FOLDER) / root.name


def _copy_out(stream: Any, output: Any, key: str, folder: Path) -> None:
    # Reading raises the storage's errors; writing here raises BackupFailed.
    while chunk := stream.read(_CHUNK):
        pause_point("keep-write")
        try:
            output.write(chunk)
        except OSError as error:
            raise BackupFailed(key, folder, error) from None


def _write_whole(path: Path, key: str, folder: Path, fill: Any) -> None:
    """Write `path` through a temporary file beside it, renamed into place: whole or absent."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = temporary_file(path.parent, _KEEP_PREFIX)
    except OSError as error:
        raise BackupFailed(key, folder, error) from None
    try:
        with os.fdopen(descriptor, "wb") as output:
            fill(output)
            try:
                output.flush()
            except OSError as error:
                raise BackupFailed(key, folder, error) from None
        try:
            os.replace(temporary, path)
        except OSError as error:
            raise BackupFailed(key, folder, error) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
