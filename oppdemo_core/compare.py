"""Compare two scanned trees by content, in the manner of `filecmp.cmp(shallow=False)`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .scan import Entry, Tree

_CHUNK = 1024 * 1024
# Small files are compared in batches so thread hand-offs cost less than the reading.
_BATCH_BYTES = 8 * 1024 * 1024
_BATCH_FILES = 256
_WORKERS = min(4, (os.cpu_count() or 1) * 2)


@dataclass(frozen=True)
class Changes:
    """Keys (relative to the asset) that differ between the working side and the saved side."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.modified or self.deleted)


def same_content(first: Path, second: Path) -> bool:
    """True when two regular files hold the same bytes (sizes are compared by the caller)."""
    with open(first, "rb", buffering=0) as a, open(second, "rb", buffering=0) as b:
        while True:
            chunk = a.read(_CHUNK)
            if chunk != b.read(_CHUNK):
                return False
            if not chunk:
                return True


def compare_trees(working: Tree, saved: Tree) -> Changes:
    """Classify every non-folder path as added, modified or deleted on the working side.

    A path that is a folder on one side and not on the other counts once, as modified, and
    what lies under it is not listed again. Symlinks are compared by their target string.
    """
    conflicts: set[str] = set()
    modified: list[str] = []
    same_size: list[str] = []
    for key, mine in working.entries.items():
        theirs = saved.entries.get(key)
        if theirs is None:
            continue
        if mine.kind != theirs.kind:
            modified.append(key)
            if "dir" in (mine.kind, theirs.kind):
                conflicts.add(key)
        elif mine.kind == "link" and mine.target != theirs.target:
            modified.append(key)
        elif mine.kind == "file":
            if mine.size != theirs.size:
                modified.append(key)
            else:
                same_size.append(key)
    modified.extend(content_differs(working, saved, same_size))

    def visible(key: str, entry: Entry) -> bool:
        return entry.kind != "dir" and not under_any(key, conflicts)

    added = [k for k, e in working.entries.items() if k not in saved.entries and visible(k, e)]
    deleted = [k for k, e in saved.entries.items() if k not in working.entries and visible(k, e)]
    return Changes(tuple(sorted(added)), tuple(sorted(modified)), tuple(sorted(deleted)))


def content_differs(first: Tree, second: Tree, keys: list[str]) -> list[str]:
    """Return the keys whose files differ in content, reading files on a few threads."""
    if not keys:
        return []
    batches = list(_batches(first, keys))
    if len(batches) == 1:
        return _compare_batch(first, second, batches[0])
    with ThreadPoolExecutor(_WORKERS) as pool:
        found = pool.map(partial(_compare_batch, first, second), batches)
        return [key for batch in found for key in batch]


def _compare_batch(first: Tree, second: Tree, batch: list[str]) -> list[str]:
    return [key for key in batch if not same_content(first.path(key), second.path(key))]


def _batches(tree: Tree, keys: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for key in keys:
        batch.append(key)
        size += tree.entries[key].size
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def under_any(key: str, folders: Iterable[str]) -> bool:
    """True when `key` lies strictly inside one of `folders` ('' is the asset root)."""
    return any(
        key != folder and (folder == "" or key.startswith(f"{folder}/")) for folder in folders
    )


@dataclass(frozen=True)
class AssetDrift:
    """How one asset's working files differ from its saved copy, as project-relative paths."""

    path: str
    saved: str
    added: tuple[str, ...]
    modified: tuple[str, ...]
    deleted: tuple[str, ...]

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.modified or self.deleted)

    def saved_counterpart(self, working_path: str) -> str:
        """The snapshot path that corresponds to a working path of this asset."""
        return self.saved + working_path[len(self.path) :]


@dataclass(frozen=True)
class DriftReport:
    """The result of `diff` for the whole project."""

    assets: tuple[AssetDrift, ...]

    @property
    def in_sync(self) -> bool:
        return all(asset.in_sync for asset in self.assets)

    def to_dict(self) -> dict[str, object]:
        return {
            "in_sync": self.in_sync,
            "assets": [
                {
                    "path": asset.path,
                    "saved": asset.saved,
                    "added": list(asset.added),
                    "modified": list(asset.modified),
                    "deleted": list(asset.deleted),
                }
                for asset in self.assets
            ],
        }
