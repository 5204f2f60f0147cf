"""Plans: the ordered list of file operations a command will perform, made before any change."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from oppdemo.assets.compare import under_any
from oppdemo.assets.ignore import NO_IGNORES
from oppdemo.assets.scan import Kind, Tree, scan_tree
from oppdemo.errors import PlanError

if TYPE_CHECKING:
    from oppdemo.assets.ignore import AssetRules
    from oppdemo.assets.manifest import Manifest

Action = Literal["remove", "rmdir", "mkdir", "write"]
_PHASES: dict[str, int] = {"remove": 0, "rmdir": 1, "mkdir": 2, "write": 3}


@dataclass(frozen=True)
class Operation:
    """One change to one path (relative to the project root).

    `write` puts a copy of `source` at `path` (replacing what is there when `existed`, whose
    kind is `replaced`); `remove` and `rmdir` delete a file or link and an emptied folder;
    `mkdir` creates a folder.
    """

    action: Action
    path: str
    kind: Kind = "file"
    source: str | None = None
    existed: bool = False
    mode: int = 0o755
    replaced: Kind | None = None

    @property
    def kept_kind(self) -> Kind:
        """The kind of what this operation replaces or removes, as its backup keeps it.

        A link that a file replaces is kept as a link, so that `undo` brings back the link.
        """
        return self.replaced or self.kind

    @property
    def verb(self) -> str:
        if self.action == "write":
            return "overwrite" if self.existed else "copy"
        return {"remove": "remove", "rmdir": "remove folder", "mkdir": "make folder"}[self.action]

    @property
    def changes_a_file(self) -> bool:
        return self.action in ("write", "remove")


@dataclass(frozen=True)
class Plan:
    """What a command will do: operations in a safe order, and stale temporaries to clear.

    `undoes` names the backup that an `undo` plan reverses.
    """

    command: str
    operations: tuple[Operation, ...]
    stale: tuple[str, ...] = field(default=())
    undoes: str | None = None

    def count(self, verb: str) -> int:
        return sum(1 for operation in self.operations if operation.verb == verb)


def ordered(operations: Iterable[Operation]) -> tuple[Operation, ...]:
    """Removals first, then emptied folders deepest first, new folders shallowest first, writes."""

    def sort_key(operation: Operation) -> tuple[int, int, str]:
        depth = operation.path.count("/")
        if operation.action == "rmdir":
            depth = -depth
        return (_PHASES[operation.action], depth, operation.path)

    return tuple(sorted(operations, key=sort_key))


def join(base: str, key: str) -> str:
    return f"{base}/{key}" if key else base


def mirror(
    source: Tree, source_base: str, target: Tree, target_base: str, changed: set[str]
) -> list[Operation]:
    """Operations that make the target tree an exact copy of the source tree.

    `changed` names the keys whose files or links differ between the two (from the compare),
    so that only what differs is written. Ignored entries of the target are the user's: they
    stay where they are, and so do the folders that hold them.
    """
    operations: list[Operation] = []
    occupied = target.occupied
    for key, mine in target.entries.items():
        theirs = source.entries.get(key)
        if theirs is not None and (theirs.kind == "dir") == (mine.kind == "dir"):
            continue
        path = join(target_base, key)
        if mine.kind != "dir":
            operations.append(Operation("remove", path, mine.kind))
        elif key not in occupied:
            operations.append(Operation("rmdir", path, "dir", mode=mine.mode))
        elif theirs is not None:
            raise PlanError(
                f"{path} holds files that are ignored (the user's), where the other side has a "
                "file: move them out of the way and rerun."
            )
    for key, theirs in source.entries.items():
        if key in target.ignored:
            raise PlanError(
                f"{join(target_base, key)} is ignored here but not on the other side, so it "
                "would be overwritten: move it out of the way and rerun."
            )
        present = target.entries.get(key)
        kept = present is not None and (theirs.kind == "dir") == (present.kind == "dir")
        path = join(target_base, key)
        if theirs.kind == "dir":
            if not kept:
                operations.append(Operation("mkdir", path, "dir", mode=theirs.mode))
        elif not kept or key in changed:
            source_path = join(source_base, key)
            replaced = present.kind if kept and present is not None else None
            operations.append(
                Operation("write", path, theirs.kind, source_path, existed=kept, replaced=replaced)
            )
    return operations


def removal(tree: Tree, base: str, keep: tuple[str, ...] = ()) -> list[Operation]:
    """Operations that remove everything in `tree` but its ignored entries, the folders that
    hold them and the `keep` entries (keys inside the tree) with the folders above them."""
    kept = tree.occupied
    for kept_key in keep:
        kept.update(_folders_above(kept_key))
    operations = []
    for key, entry in tree.entries.items():
        if key in kept or under_any(key, keep) or key in keep:
            continue
        action: Action = "rmdir" if entry.kind == "dir" else "remove"
        operations.append(Operation(action, join(base, key), entry.kind, mode=entry.mode))
    return operations


def purge_ignored(saved: Tree, base: str) -> list[Operation]:
    """Operations that remove from a saved copy what the rules hide (caches, secrets, users'
    uploads that an older save copied there): the snapshot holds demo code only. The tree
    forgets them, so that a mirror onto it may remove the folders that held them."""
    operations: list[Operation] = []
    for key in saved.ignored:
        operations += removal(scan_tree(saved.root / key, NO_IGNORES), join(base, key))
    saved.ignored.clear()
    return operations


def spare(operations: list[Operation], base: str, keep: tuple[str, ...]) -> list[Operation]:
    """`operations` without those that would touch the `keep` entries of the asset at `base`
    (or remove a folder above one)."""
    if not keep:
        return operations
    paths = [join(base, entry) for entry in keep]
    above = {join(base, folder) for entry in keep for folder in _folders_above(entry)}
    return [
        operation
        for operation in operations
        if operation.path not in paths
        and not under_any(operation.path, paths)
        and not (operation.action == "rmdir" and operation.path in above)
    ]


def _folders_above(key: str) -> set[str]:
    """'' and every folder above `key` inside its tree."""
    folders = {""}
    while "/" in key:
        key = key.rpartition("/")[0]
        folders.add(key)
    return folders


def refuse_linked_folders(root: Path, path: str) -> None:
    """Refuse a path below a symlinked folder: changing it could change files elsewhere."""
    for parent in PurePosixPath(path).parents[:-1]:
        if (root / parent).is_symlink():
            raise PlanError(
                f"{parent} is a symbolic link: oppdemo will not write through it; "
                "replace it with a real folder."
            )


def missing_folders(root: Path, path: str) -> list[Operation]:
    """`mkdir` operations for the folders above `path` that do not exist yet."""
    refuse_linked_folders(root, path)
    operations = []
    for parent in reversed(PurePosixPath(path).parents[:-1]):
        location = root / parent
        if not location.exists():
            operations.append(Operation("mkdir", str(parent), "dir", mode=0o755))
        elif not location.is_dir():
            raise PlanError(f"{parent} is a file where a folder is needed: move it away.")
    return operations


def check_access(root: Path, plan: Plan) -> None:
    """Refuse a plan that would fail half-way for lack of permission to read or write."""
    base = str(root)
    writable: set[str] = set()
    for operation in plan.operations:
        reads_a_file = operation.action == "write" and operation.kind == "file"
        if reads_a_file and not os.access(f"{base}/{operation.source}", os.R_OK):
            raise PlanError(f"Cannot read {operation.source}: fix its permissions and rerun.")
        parent = operation.path.rpartition("/")[0]
        if parent in writable:
            continue
        folder = parent
        while folder and not os.path.isdir(f"{base}/{folder}"):
            folder = folder.rpartition("/")[0]
        if not os.access(f"{base}/{folder}" if folder else base, os.W_OK | os.X_OK):
            raise PlanError(
                f"Permission denied: cannot change {operation.path}; fix the permissions of "
                f"{folder or 'the project folder'} and rerun."
            )
        writable.add(parent)


def spare_ignored(manifest: Manifest, operations: tuple[Operation, ...]) -> tuple[Operation, ...]:
    """`operations` without those that would remove or overwrite what the manifest's rules
    hide (the user's files: an `undo` finds caches and uploads made since in folders it is to
    remove), nor the folders that hold them."""
    rules: dict[str, AssetRules] = {}
    # A path inside a hidden folder counts as hidden itself (each folder above is tested).
    hidden = {
        operation.path
        for operation in operations
        if (operation.action in ("remove", "rmdir") or operation.existed)
        and _hidden(manifest, rules, operation.path, operation.kind == "dir")
    }
    if not hidden:
        return operations
    above = {folder for path in hidden for folder in _folders_above(path) if folder}
    return tuple(
        operation
        for operation in operations
        if operation.path not in hidden
        and not (operation.action == "rmdir" and operation.path in above)
    )


def _hidden(manifest: Manifest, rules: dict[str, AssetRules], path: str, is_dir: bool) -> bool:
    """Whether the rules of the asset that `path` (working or saved) belongs to hide it or a
    folder above it."""
    for asset in manifest.assets:
        for base in (asset.path, manifest.saved_path(asset)):
            if path != base and not path.startswith(f"{base}/"):
                continue
            if asset.path not in rules:
                rules[asset.path] = manifest.rules_for(asset)
            key = path[len(base) + 1 :]
            parts = key.split("/") if key else []
            for depth in range(1, len(parts) + 1):
                folder = depth < len(parts) or is_dir
                if rules[asset.path].matches(parts[depth - 1], "/".join(parts[:depth]), folder):
                    return True
            return False
    return False
