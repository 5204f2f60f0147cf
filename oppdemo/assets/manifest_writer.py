"""`init`: find a project's demo assets from its snapshot and write `[tool.oppdemo]` for them."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oppdemo.assets.ignore import DataFolder, ignore_rules
from oppdemo.assets.manifest import (
    DEFAULT_ASSETS,
    DEFAULT_STORAGE,
    Asset,
    parse_manifest,
    relative_path,
)
from oppdemo.errors import ManifestError

DEFAULT_SNAPSHOT = "demo_assets"
DEFAULT_BACKUPS = "backups"
# FastOpp's minimal app: where it holds a counterpart of an asset, `destroy` puts that back.
BASE_FOLDER = "base_assets"
# FastOpp saves its demo scripts as `demo_assets/scripts`; the working copy moved over time.
SCRIPTS_SAVED = "scripts"
SCRIPTS_WORKING = ("scripts/demo", "demo_scripts")
# Files at the top of a snapshot that describe it rather than belong to the app.
DOCUMENT_PATTERNS = ("README*", "*.md")
# Folders where the app keeps its own modules beside the demo's: each saved entry is an asset
# of its own, so that `destroy` removes the demo's (FastOpp's destroy removes its three demo
# services by name and keeps the folder) and `diff` does not count the app's as demo code.
SHARED_FOLDERS = ("services",)
# What FastOpp's own `destroy` removes (beside what it replaces by its base, and the entries
# of a shared folder); it leaves every other folder (blog/) alone.
REMOVED_BY_DESTROY = ("static", "dependencies", "auth", *SCRIPTS_WORKING)
# Files FastOpp's destroy keeps in a folder it removes: base_assets' app imports them.
KEPT_BY_DESTROY = {"dependencies": ("auth.py",)}
# The storage's upload folder when its code names none (FastOpp's and this project's default).
DEFAULT_UPLOAD_DIR = "static/uploads"
_UPLOAD_DIR = re.compile(
    r"""(?:UPLOAD_DIR["']\s*,|upload_dir\s*(?::\s*str\s*)?=)\s*["']([^"'\s]+)["']"""
)
# What FastOpp ships in its upload folder (its own oppdemo.py saves exactly these).
DEMO_UPLOADS = (".gitkeep", "sample_photos")
# FastOpp resets its database after `destroy`, as its own destroy does: oppman's commands back
# up and delete test.db, then create the minimal app's tables.
FASTOPP_MANAGER = "oppman.py"
RESET_DATABASE = (
    ("uv", "run", "python", FASTOPP_MANAGER, "delete"),
    ("uv", "run", "python", FASTOPP_MANAGER, "db"),
)


@dataclass(frozen=True)
class Skipped:
    """A top-level entry of the snapshot that `init` did not pair, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    """What `init` found: the assets to declare, what it left out, and the table's TOML."""

    snapshot: str
    assets: tuple[Asset, ...]
    skipped: tuple[Skipped, ...]
    table: str
    storage: str | None = None
    data: tuple[DataFolder, ...] = ()
    after_destroy: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "snapshot": self.snapshot,
            "storage": self.storage,
            "assets": [
                {
                    "path": asset.path,
                    "saved": asset.saved,
                    "base": asset.base,
                    "destroy": asset.on_destroy,
                    "keep": list(asset.keep),
                }
                for asset in self.assets
            ],
            "data": [{"path": item.path, "demo": list(item.demo)} for item in self.data],
            "after_destroy": [list(command) for command in self.after_destroy],
            "skipped": [{"path": item.path, "reason": item.reason} for item in self.skipped],
        }


def find_storage(root: Path) -> str | None:
    """The module providing get_storage() when it is not the default `services.storage`:
    FastOpp moved it to `core/services/storage/`. None when the default is right or none is
    found."""
    if _provides_storage(root / DEFAULT_STORAGE.replace(".", "/")):
        return None
    candidates = sorted(root.glob("*/services/storage/__init__.py"))
    candidates += sorted(root.glob("*/storage/__init__.py"))
    for init in candidates:
        if _provides_storage(init.parent) and not init.is_relative_to(root / DEFAULT_SNAPSHOT):
            return ".".join(init.parent.relative_to(root).parts)
    return None


def _provides_storage(folder: Path) -> bool:
    if not (folder / "__init__.py").is_file():
        return False
    return any(
        "def get_storage" in path.read_text(errors="replace") for path in folder.glob("*.py")
    )


def discover(root: Path, snapshot: str = DEFAULT_SNAPSHOT) -> Discovery:
    """Pair each top-level entry of the snapshot with its working counterpart (each entry of
    a shared folder on its own), and find the upload folder and the database reset."""
    folder = root / snapshot
    storage = find_storage(root)
    if not folder.is_dir():
        defaults = tuple(
            Asset(item["path"], item.get("saved", item["path"])) for item in DEFAULT_ASSETS
        )
        data = find_data(root, storage, defaults)
        table = render_table(snapshot, defaults, storage, data)
        return Discovery(snapshot, defaults, (), table, storage, data)
    rules = ignore_rules()
    assets: list[Asset] = []
    skipped: list[Skipped] = []
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        name, is_dir = entry.name, entry.is_dir() and not entry.is_symlink()
        saved_path = f"{snapshot}/{name}"
        if rules.matches(name, name, is_dir):
            continue
        if not is_dir and any(fnmatch.fnmatch(name, pattern) for pattern in DOCUMENT_PATTERNS):
            skipped.append(Skipped(saved_path, "documents the snapshot"))
            continue
        if name in (DEFAULT_BACKUPS, snapshot.split("/")[0]):
            skipped.append(Skipped(saved_path, f"{name}/ is one of oppdemo's own folders"))
            continue
        if is_dir and name in SHARED_FOLDERS and _same_kind(root / name, True):
            for inner in sorted(entry.iterdir(), key=lambda path: path.name):
                inner_dir = inner.is_dir() and not inner.is_symlink()
                if rules.matches(inner.name, inner.name, inner_dir):
                    continue
                key = f"{name}/{inner.name}"
                if _same_kind(root / key, inner_dir):
                    assets.append(Asset(key, key))
                else:
                    skipped.append(
                        Skipped(f"{snapshot}/{key}", f"no working counterpart: {key} is missing")
                    )
            continue
        working, reason = _counterpart(root, name, is_dir)
        if working is None:
            skipped.append(Skipped(saved_path, reason))
            continue
        assets.append(_fastopp_asset(root, working, name, is_dir))
    if not assets:
        raise ManifestError(
            f"Nothing in {snapshot}/ has a counterpart in the project, so there is nothing to "
            "declare: check that you are in the project root, or write [tool.oppdemo] by hand."
        )
    data = find_data(root, storage, assets)
    hooks = RESET_DATABASE if (root / FASTOPP_MANAGER).is_file() else ()
    table = render_table(snapshot, assets, storage, data, hooks)
    return Discovery(snapshot, tuple(assets), tuple(skipped), table, storage, data, hooks)


def _fastopp_asset(root: Path, working: str, saved: str, is_dir: bool) -> Asset:
    """The asset, with what FastOpp's own `destroy` does to it: put its base in its place (when
    base_assets/ holds one), remove it (keeping what the base app imports), or leave it."""
    base = f"{BASE_FOLDER}/{working}"
    if _same_kind(root / base, is_dir):
        return Asset(working, saved, base)
    if working in REMOVED_BY_DESTROY:
        keep = tuple(
            name for name in KEPT_BY_DESTROY.get(working, ()) if (root / working / name).exists()
        )
        return Asset(working, saved, None, None, keep)
    return Asset(working, saved, None, "keep")


def find_data(
    root: Path, storage: str | None, assets: tuple[Asset, ...] | list[Asset]
) -> tuple[DataFolder, ...]:
    """The storage's upload folder as a data folder, when it lies inside an asset: users'
    uploads are no demo code, but what the project ships there (FastOpp's sample photos and
    its .gitkeep) is."""
    upload_dir = _upload_dir(root / (storage or DEFAULT_STORAGE).replace(".", "/"))
    if upload_dir is None:
        return ()
    inside = any(upload_dir.startswith(f"{asset.path}/") for asset in assets)
    return (DataFolder(upload_dir, DEMO_UPLOADS),) if inside else ()


def _upload_dir(storage_folder: Path) -> str | None:
    """The default UPLOAD_DIR that the storage's code names (or FastOpp's), as a clean
    project-relative path; None when it is absolute or leaves the project."""
    found = DEFAULT_UPLOAD_DIR
    for path in sorted(storage_folder.glob("*.py")):
        match = _UPLOAD_DIR.search(path.read_text(errors="replace"))
        if match:
            found = match.group(1)
            break
    try:
        return relative_path(found.rstrip("/").removeprefix("./"), "UPLOAD_DIR")
    except ManifestError:
        return None


def _counterpart(root: Path, name: str, is_dir: bool) -> tuple[str | None, str]:
    """The working path that a snapshot entry saves, or None and the reason there is none."""
    if name == SCRIPTS_SAVED and is_dir:
        # Never `scripts/` itself: in FastOpp it holds the app's own scripts too.
        for candidate in SCRIPTS_WORKING:
            if _same_kind(root / candidate, True):
                return candidate, ""
        return None, f"no working counterpart: neither {' nor '.join(SCRIPTS_WORKING)} exists"
    if _same_kind(root / name, is_dir):
        return name, ""
    if (root / name).exists() or (root / name).is_symlink():
        kind = "folder" if is_dir else "file"
        return None, f"no working counterpart: {name} is not a {kind} in the project"
    return None, f"no working counterpart: {name} does not exist in the project"


def _same_kind(path: Path, is_dir: bool) -> bool:
    if path.is_symlink():
        return False
    return path.is_dir() if is_dir else path.is_file()


def render_table(
    snapshot: str,
    assets: list[Asset] | tuple[Asset, ...],
    storage: str | None = None,
    data: tuple[DataFolder, ...] = (),
    after_destroy: tuple[tuple[str, ...], ...] = (),
) -> str:
    """The `[tool.oppdemo]` table as TOML text, written by tomlkit."""
    import tomlkit

    table = tomlkit.table()
    table["snapshot"] = snapshot
    table["backups"] = DEFAULT_BACKUPS
    if storage is not None:
        table["storage"] = storage
    array = tomlkit.aot()
    for asset in assets:
        item = tomlkit.table()
        item["path"] = asset.path
        if asset.saved != asset.path:
            item["saved"] = asset.saved
        if asset.base is not None:
            item["base"] = asset.base
        if asset.destroy == "keep":
            item["destroy"] = "keep"
            item["destroy"].comment("destroy leaves it as it is (as FastOpp's destroy does)")
        if asset.keep:
            item["keep"] = list(asset.keep)
            item["keep"].comment("destroy removes the rest; the base app imports these")
        array.append(item)
    table["assets"] = array
    if data:
        folders = tomlkit.aot()
        for folder in data:
            item = tomlkit.table()
            item.add(tomlkit.comment("Users' uploads: no command compares, saves, restores or"))
            item.add(tomlkit.comment("removes them; only the `demo` entries are demo content."))
            item["path"] = folder.path
            item["demo"] = list(folder.demo)
            folders.append(item)
        table["data"] = folders
    if after_destroy:
        hooks = tomlkit.table()
        commands = tomlkit.array().multiline(True)
        for command in after_destroy:
            commands.append(list(command))
        hooks.add(tomlkit.comment("Reset the database after destroy, as FastOpp's destroy does."))
        hooks["after-destroy"] = commands
        table["hooks"] = hooks
    tool = tomlkit.table(is_super_table=True)
    tool["oppdemo"] = table
    document = tomlkit.document()
    document["tool"] = tool
    return tomlkit.dumps(document)


def without_table(text: str) -> str:
    """`text` without its `[tool.oppdemo]` table (and an emptied `[tool]`), by tomlkit, which
    keeps the rest of the file as it was."""
    import re

    import tomlkit

    document = tomlkit.parse(text)
    tool: Any = document["tool"]
    del tool["oppdemo"]
    if not tool:
        del document["tool"]
    result = tomlkit.dumps(document)
    headers = re.findall(r"^\s*\[\[?\s*([^\]]+?)\s*\]", text, flags=re.MULTILINE)
    if headers and headers[-1].startswith("tool.oppdemo") and result.endswith("\n\n"):
        # The table was last, where `init` appends it after one blank line: take that too,
        # so that init then eject gives the file back as it was.
        result = result[:-1]
    return result


def updated_pyproject(text: str, table: str, force: bool) -> str:
    """`text` with `table` as its `[tool.oppdemo]`.

    The table is appended, so the rest of the file stays byte for byte as it was; with `force`
    an existing table is first taken out by tomlkit, which keeps comments and formatting.
    """
    import tomlkit

    try:
        current = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"pyproject.toml is not valid TOML ({error}): fix the file.") from None
    tool: Any = current.get("tool", {})
    if "oppdemo" in tool:
        if not force:
            raise ManifestError(
                "pyproject.toml already has a [tool.oppdemo] table: edit it, or pass --force "
                "to replace it."
            )
        document = tomlkit.parse(text)
        del document["tool"]["oppdemo"]  # type: ignore[union-attr]
        text = tomlkit.dumps(document)
    separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    updated = f"{text}{separator}{table}"
    try:
        result = tomllib.loads(updated)
    except tomllib.TOMLDecodeError:
        # `tool = {...}` as an inline table cannot be extended by a later [tool.oppdemo].
        raise ManifestError(
            "pyproject.toml defines `tool` in a way that a [tool.oppdemo] table cannot be added "
            "to: write the table printed by `oppdemo init --dry-run` into it by hand."
        ) from None
    parse_manifest(Path("."), result["tool"]["oppdemo"])
    return updated
