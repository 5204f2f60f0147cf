"""Read and validate `[tool.oppdemo]` in pyproject.toml: which paths are demo assets."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from oppdemo.assets.ignore import AssetRules, DataFolder, GitIgnores, IgnoreRules, ignore_rules
from oppdemo.errors import ManifestError

# FastOpp's layout at the time of its storage post (2025): the demo scripts are saved as
# `demo_assets/scripts/`.
DEFAULT_ASSETS: tuple[dict[str, str], ...] = (
    {"path": "services/storage"},
    {"path": "demo_scripts", "saved": "scripts"},
)
_TOP_KEYS = {"snapshot", "backups", "ignore", "assets", "storage", "hooks", "data"}
HOOK_EVENTS = ("after-save", "after-restore", "after-destroy")
# The module that provides get_storage(): this project's layout (FastOpp's 2025 one).
DEFAULT_STORAGE = "services.storage"
DEFAULT_BACKUPS = "backups"
# Never an asset: destroying one would leave nothing to undo it with.
_NEVER_ASSETS = {".git", ".hg", ".svn", ".venv"}
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_ASSET_KEYS = {"path", "saved", "base", "destroy", "keep"}
_DATA_KEYS = {"path", "demo"}
# What `destroy` does to an asset: put its `base` in its place, remove it, or leave it alone.
DESTROY_MODES = ("base", "remove", "keep")


@dataclass(frozen=True)
class Asset:
    """One demo asset: a folder or file of the project and its place in the snapshot."""

    path: str
    saved: str
    base: str | None = None
    # None: "base" when the asset has a base, "remove" otherwise.
    destroy: str | None = None
    # Entries inside the asset that `destroy` leaves in place (FastOpp keeps dependencies/auth.py).
    keep: tuple[str, ...] = ()

    @property
    def on_destroy(self) -> str:
        """What `destroy` does to this asset: "base", "remove" or "keep"."""
        return self.destroy or ("base" if self.base is not None else "remove")


@dataclass(frozen=True)
class Manifest:
    """Everything oppdemo needs to know about a project, with paths relative to `root`."""

    root: Path
    snapshot: str
    backups: str
    assets: tuple[Asset, ...]
    ignore: IgnoreRules
    storage: str = DEFAULT_STORAGE
    # Commands (argument lists) to run in the project root after a command changed files.
    hooks: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()
    # Folders of user data (uploads), whose files are no demo code but for their `demo` entries.
    data: tuple[DataFolder, ...] = ()
    # The project's .gitignore files, read as the scans need them.
    gitignores: GitIgnores | None = field(default=None, compare=False, repr=False)

    def rules_for(self, asset: Asset) -> AssetRules:
        """What the scans of `asset` (working files and saved copy alike) leave out."""
        data = tuple(folder for folder in self.data if _overlaps(folder.path, asset.path))
        return AssetRules(asset.path, self.ignore, data, self.gitignores)

    def hooks_for(self, event: str) -> tuple[tuple[str, ...], ...]:
        return dict(self.hooks).get(event, ())

    def saved_path(self, asset: Asset) -> str:
        return f"{self.snapshot}/{asset.saved}"


PYPROJECT = "pyproject.toml"


def load_manifest(project_dir: Path) -> Manifest:
    """Load the manifest of the project at `project_dir`; raise `ManifestError` when it is bad."""
    _, document = read_pyproject(project_dir)
    section = document.get("tool", {}).get("oppdemo", {})
    return parse_manifest(project_dir.resolve(), section)


def read_pyproject(project_dir: Path) -> tuple[str, dict[str, Any]]:
    """The text of the project's pyproject.toml and what it says."""
    pyproject = project_dir / PYPROJECT
    try:
        text = pyproject.read_bytes().decode("utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise ManifestError(
            f"No pyproject.toml in {project_dir}: run oppdemo from the project root "
            "or pass -C/--project-dir."
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{pyproject} is not valid TOML ({error}): fix the file.") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{pyproject} is not UTF-8 text: save it as UTF-8.") from None
    except OSError as error:
        raise ManifestError(f"Cannot read {pyproject}: {error.strerror}.") from None


def parse_manifest(root: Path, section: Any) -> Manifest:
    """Validate the `[tool.oppdemo]` table and build a `Manifest`."""
    where = "tool.oppdemo"
    if not isinstance(section, dict):
        raise ManifestError(f"{where} must be a table: see the README's manifest section.")
    _reject_unknown_keys(section, _TOP_KEYS, where)
    snapshot = relative_path(section.get("snapshot", "demo_assets"), f"{where}.snapshot")
    backups = relative_path(section.get("backups", DEFAULT_BACKUPS), f"{where}.backups")
    if _overlaps(snapshot, backups):
        raise ManifestError(f"{where}.backups ({backups!r}) overlaps the snapshot ({snapshot!r}).")
    patterns = section.get("ignore", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        raise ManifestError(f"{where}.ignore must be a list of glob patterns such as ['*.log'].")
    raw_assets = section.get("assets", list(DEFAULT_ASSETS))
    if not isinstance(raw_assets, list) or not raw_assets:
        raise ManifestError(f"{where}.assets must be a non-empty array of tables.")
    assets = tuple(
        _parse_asset(raw, f"{where}.assets[{index}]", snapshot, backups)
        for index, raw in enumerate(raw_assets)
    )
    _reject_overlapping_assets(assets, where)
    storage = section.get("storage", DEFAULT_STORAGE)
    if not isinstance(storage, str) or not _MODULE.fullmatch(storage):
        raise ManifestError(
            f"{where}.storage must name a module such as 'core.services.storage' "
            f"(the one that provides get_storage()), not {storage!r}."
        )
    hooks = _parse_hooks(section.get("hooks", {}), f"{where}.hooks")
    data = _parse_data(section.get("data", []), where, assets, snapshot, backups)
    return Manifest(
        root,
        snapshot,
        backups,
        assets,
        ignore_rules(tuple(patterns)),
        storage,
        hooks,
        data,
        GitIgnores(root),
    )


def _parse_data(
    raw: Any, where: str, assets: tuple[Asset, ...], snapshot: str, backups: str
) -> tuple[DataFolder, ...]:
    """The `[[tool.oppdemo.data]]` tables: folders of user data inside (or beside) assets."""
    if not isinstance(raw, list):
        raise ManifestError(
            f"{where}.data must be an array of tables such as "
            '[[tool.oppdemo.data]] path = "static/uploads".'
        )
    folders: list[DataFolder] = []
    for index, table in enumerate(raw):
        at = f"{where}.data[{index}]"
        if not isinstance(table, dict) or "path" not in table:
            raise ManifestError(f"{at} must be a table with a 'path' key naming a data folder.")
        _reject_unknown_keys(table, _DATA_KEYS, at)
        path = relative_path(table["path"], f"{at}.path")
        demo = table.get("demo", [])
        if not isinstance(demo, list):
            raise ManifestError(f"{at}.demo must be a list of paths inside {path}/.")
        entries = tuple(relative_path(entry, f"{at}.demo") for entry in demo)
        for name, folder in (("snapshot", snapshot), ("backups", backups)):
            if _overlaps(path, folder):
                raise ManifestError(
                    f"{at}.path ({path!r}) overlaps the {name} folder ({folder!r}): user data "
                    "lives in the working tree."
                )
        for asset in assets:
            if _overlaps(path, asset.path) and len(path) <= len(asset.path):
                raise ManifestError(
                    f"{at}.path ({path!r}) contains the asset {asset.path!r}, so none of it "
                    "would be demo code: name the data folder inside the asset, or drop the "
                    "asset."
                )
        for other in folders:
            if _overlaps(path, other.path):
                raise ManifestError(
                    f"{at}.path ({path!r}) overlaps the data folder {other.path!r}: name each "
                    "folder once."
                )
        folders.append(DataFolder(path, entries))
    return tuple(folders)


def _parse_hooks(raw: Any, where: str) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where} must be a table such as {{after-destroy = [[...]]}}.")
    _reject_unknown_keys(raw, set(HOOK_EVENTS), where)
    parsed = []
    for event in HOOK_EVENTS:
        commands = raw.get(event, [])
        valid = isinstance(commands, list) and all(
            isinstance(command, list)
            and command
            and all(isinstance(a, str) for a in command)
            and command[0].strip()
            for command in commands
        )
        if not valid:
            raise ManifestError(
                f"{where}.{event} must be a list of commands, each a list of arguments "
                '(no shell), such as [["python", "oppman.py", "db"]].'
            )
        if commands:
            parsed.append((event, tuple(tuple(command) for command in commands)))
    return tuple(parsed)


def _parse_asset(raw: Any, where: str, snapshot: str, backups: str) -> Asset:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where} must be a table with a 'path' key.")
    _reject_unknown_keys(raw, _ASSET_KEYS, where)
    if "path" not in raw:
        raise ManifestError(f"{where}.path is missing: name the folder or file of the asset.")
    path = relative_path(raw["path"], f"{where}.path")
    saved = relative_path(raw.get("saved", path), f"{where}.saved")
    base = relative_path(raw["base"], f"{where}.base") if "base" in raw else None
    destroy = raw.get("destroy")
    if destroy is not None and destroy not in DESTROY_MODES:
        raise ManifestError(
            f"{where}.destroy ({destroy!r}) must be one of {', '.join(map(repr, DESTROY_MODES))}."
        )
    if destroy == "base" and base is None:
        raise ManifestError(f"{where}.destroy is 'base' but the asset has no 'base': add one.")
    keep = raw.get("keep", [])
    if not isinstance(keep, list):
        raise ManifestError(f"{where}.keep must be a list of paths inside the asset.")
    kept = tuple(relative_path(entry, f"{where}.keep") for entry in keep)
    first = PurePosixPath(path).parts[0]
    if path == PYPROJECT or first in _NEVER_ASSETS:
        raise ManifestError(
            f"{where}.path ({path!r}) is the project's own machinery, which oppdemo needs to "
            "undo anything: it cannot be an asset."
        )
    for name, folder in (("snapshot", snapshot), ("backups", backups)):
        if _overlaps(path, folder):
            raise ManifestError(
                f"{where}.path ({path!r}) overlaps the {name} folder ({folder!r}): "
                "an asset must live outside both."
            )
    if base is not None and (_overlaps(base, path) or _overlaps(base, backups)):
        raise ManifestError(f"{where}.base ({base!r}) must lie outside the asset and backups.")
    return Asset(path, saved, base, destroy, kept)


def _reject_overlapping_assets(assets: tuple[Asset, ...], where: str) -> None:
    for index, asset in enumerate(assets):
        for other_index in range(index):
            other = assets[other_index]
            for key in ("path", "saved"):
                mine, theirs = getattr(asset, key), getattr(other, key)
                if _overlaps(mine, theirs):
                    raise ManifestError(
                        f"{where}.assets[{index}].{key} ({mine!r}) overlaps "
                        f"{where}.assets[{other_index}].{key} ({theirs!r}): "
                        "assets must not contain one another."
                    )


def _reject_unknown_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ManifestError(
            f"{where}.{unknown[0]} is not a known key: use {', '.join(sorted(allowed))}."
        )


def relative_path(value: Any, where: str) -> str:
    """Check that `value` is a clean POSIX path inside the project and return it normalised."""
    if not isinstance(value, str):
        raise ManifestError(f"{where} must be a string, not {type(value).__name__}.")
    if not value.strip() or "\\" in value or "\x00" in value:
        raise ManifestError(f"{where} ({value!r}) must be a relative POSIX path like 'a/b'.")
    path = PurePosixPath(value)
    if path.is_absolute():
        raise ManifestError(f"{where} ({value!r}) is absolute: give a path relative to the root.")
    if ".." in path.parts:
        raise ManifestError(f"{where} ({value!r}) contains '..': it must stay inside the project.")
    if str(path) == ".":
        raise ManifestError(f"{where} ({value!r}) names the project root itself: name a folder.")
    return str(path)


def _overlaps(first: str, second: str) -> bool:
    a, b = PurePosixPath(first).parts, PurePosixPath(second).parts
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]
