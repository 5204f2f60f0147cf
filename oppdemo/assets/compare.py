"""Compare two scanned trees by content, in the manner of `filecmp.cmp(shallow=False)`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from oppdemo.assets.forked import run_halves
from oppdemo.assets.scan import Entry, Tree
from oppdemo.errors import PlanError

_CHUNK = 1024 * 1024
_BINARY = getattr(os, "O_BINARY", 0)  # Windows opens files in text mode unless told otherwise
# A forked child shares the parent's memory at no cost on Linux; macOS and Windows compare in
# one process (fork without exec is unsafe on macOS, and Windows has no fork).
_CAN_FORK = sys.platform.startswith("linux")
# Below this many files a second process costs more than it saves.
_FORK_FROM = 64


@dataclass(frozen=True)
class Changes:
    """Keys (relative to the asset) that differ between the working side and the saved side."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


def same_content(first: str | Path, second: str | Path) -> bool:
    """True when two regular files hold the same bytes, as `filecmp.cmp(shallow=False)` says.

    Raw descriptors and reads sized to the file keep the per-file cost low, since a diff reads
    many small files: one stat, then one read per side, the second asking for one byte more
    than the first file holds so that a longer second file shows.
    """
    a = os.open(first, os.O_RDONLY | _BINARY)
    try:
        b = os.open(second, os.O_RDONLY | _BINARY)
        try:
            remaining = os.fstat(a).st_size
            while True:
                wanted = min(remaining, _CHUNK)
                chunk = os.read(a, wanted)
                if len(chunk) != wanted:
                    return False  # the file changed while it was read: count it as differing
                if chunk != os.read(b, wanted + 1 if wanted == remaining else wanted):
                    return False
                remaining -= wanted
                if remaining == 0:
                    return True
        finally:
            os.close(b)
    finally:
        os.close(a)


def compare_trees(working: Tree, saved: Tree) -> Changes:
    """Classify every non-folder path as added, modified or deleted on the working side.

    A path that is a folder on one side and not on the other counts once, as modified, and
    what lies under it is not listed again. Symlinks are compared by their target string.
    """
    conflicts: set[str] = set()
    modified: list[str] = []
    both_files: list[str] = []
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
            both_files.append(key)
    modified.extend(content_differs(working, saved, both_files))

    def visible(key: str, entry: Entry) -> bool:
        return entry.kind != "dir" and not under_any(key, conflicts)

    added = [k for k, e in working.entries.items() if k not in saved.entries and visible(k, e)]
    deleted = [k for k, e in saved.entries.items() if k not in working.entries and visible(k, e)]
    return Changes(tuple(sorted(added)), tuple(sorted(modified)), tuple(sorted(deleted)))


def content_differs(first: Tree, second: Tree, keys: list[str]) -> list[str]:
    """Return the keys whose files differ in content.

    With many files, half of them are compared in a forked child process on the other core.
    Threads would not help: the many short reads of small files serialise on the GIL.
    """
    if len(keys) < _FORK_FROM or not _CAN_FORK:
        return _compare_keys(first, second, keys)
    middle = len(keys) // 2

    def there() -> bytes:
        try:
            return b"o" + "\0".join(_compare_keys(first, second, keys[middle:])).encode(
                "utf-8", "surrogateescape"
            )
        except PlanError as error:
            return b"e" + str(error).encode("utf-8", "surrogateescape")

    differing, message = run_halves(lambda: _compare_keys(first, second, keys[:middle]), there)
    kind, payload = message[:1], message[1:].decode("utf-8", "surrogateescape")
    if kind == b"e":
        raise PlanError(payload)
    if kind != b"o":  # the child died without a word: do its half here
        return differing + _compare_keys(first, second, keys[middle:])
    return differing + [key for key in payload.split("\0") if key]


def _compare_keys(first: Tree, second: Tree, keys: list[str]) -> list[str]:
    a, b = str(first.root), str(second.root)
    differing = []
    for key in keys:
        try:
            # '' is the asset itself when the asset is a single file.
            if not same_content(f"{a}/{key}" if key else a, f"{b}/{key}" if key else b):
                differing.append(key)
        except OSError as error:
            raise PlanError(
                f"Cannot read {error.filename}: {error.strerror}; fix its permissions and rerun."
            ) from None
    return differing


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
    """The result of `diff` for the whole project.

    `state` is "demo" when the assets were compared, "destroyed" after `destroy` (the demo is
    kept in `snapshot`; nothing is compared) and "none" when the project has no demo machinery
    (no [tool.oppdemo] table and no snapshot: before `init`, or after `eject`).
    """

    assets: tuple[AssetDrift, ...]
    state: str = "demo"
    snapshot: str = ""
    # Every drifted file is one the latest `save` recorded and left unchanged since: the save
    # was made, and its copies were set aside (pre-commit stashes unstaged changes).
    saved_unstaged: bool = False

    @property
    def in_sync(self) -> bool:
        # A destroyed demo or none at all has nothing unsaved: the drift gate passes.
        return all(asset.in_sync for asset in self.assets)

    def to_dict(self) -> dict[str, object]:
        return {
            "in_sync": self.in_sync,
            "state": self.state,
            "saved_unstaged": self.saved_unstaged,
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
