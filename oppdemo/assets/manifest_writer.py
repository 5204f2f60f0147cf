"""`init`: find a project's demo assets from its snapshot and write `[tool.oppdemo]` for them."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oppdemo.assets.ignore import ignore_rules
from oppdemo.assets.manifest import DEFAULT_ASSETS, DEFAULT_STORAGE, Asset, parse_manifest
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

    def to_dict(self) -> dict[str, object]:
        return {
            "snapshot": self.snapshot,
            "storage": self.storage,
            "assets": [
                {"path": asset.path, "saved": asset.saved, "base": asset.base}
                for asset in self.assets
            ],
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
    """Pair each top-level entry of the snapshot with its working counterpart."""
    folder = root / snapshot
    storage = find_storage(root)
    if not folder.is_dir():
        defaults = tuple(
            Asset(item["path"], item.get("saved", item["path"])) for item in DEFAULT_ASSETS
        )
        return Discovery(snapshot, defaults, (), render_table(snapshot, defaults, storage), storage)
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
        working, reason = _counterpart(root, name, is_dir)
        if working is None:
            skipped.append(Skipped(saved_path, reason))
            continue
        base = f"{BASE_FOLDER}/{working}"
        has_base = _same_kind(root / base, is_dir)
        assets.append(Asset(working, name, base if has_base else None))
    if not assets:
        raise ManifestError(
            f"Nothing in {snapshot}/ has a counterpart in the project, so there is nothing to "
            "declare: check that you are in the project root, or write [tool.oppdemo] by hand."
        )
    table = render_table(snapshot, assets, storage)
    return Discovery(snapshot, tuple(assets), tuple(skipped), table, storage)


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
    snapshot: str, assets: list[Asset] | tuple[Asset, ...], storage: str | None = None
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
        array.append(item)
    table["assets"] = array
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
