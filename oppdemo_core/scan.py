"""Walk an asset's folder (or single file) into a flat map of entries, never following links."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import PlanError
from .ignore import TEMPORARY_SUFFIX, IgnoreRules

Kind = Literal["file", "link", "dir"]


@dataclass(frozen=True, slots=True)
class Entry:
    """What one path is: its kind, size, permission bits and (for a link) its target."""

    kind: Kind
    size: int = 0
    mode: int = 0o644
    target: str = ""


@dataclass
class Tree:
    """The entries under `root`, keyed by POSIX path relative to it ('' is `root` itself).

    `ignored` holds what the ignore rules hid (with everything inside ignored folders) and
    `temporaries` the leftovers of an interrupted run, so commands can clear them out.
    """

    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    ignored: dict[str, Entry] = field(default_factory=dict)
    temporaries: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return "" in self.entries

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root


def scan_tree(root: Path, rules: IgnoreRules) -> Tree:
    """Scan `root`, which may be a folder, a file, a symlink or missing."""
    tree = Tree(root)
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return tree
    except OSError as error:
        raise PlanError(f"Cannot read {root}: {error.strerror}; fix its permissions.") from None
    tree.entries[""] = _entry(root, info)
    if tree.entries[""].kind == "dir":
        _walk(tree, rules)
    return tree


def _walk(tree: Tree, rules: IgnoreRules) -> None:
    pending: list[tuple[str, bool]] = [("", False)]
    while pending:
        prefix, inside_ignored = pending.pop()
        folder = tree.path(prefix)
        try:
            with os.scandir(folder) as listing:
                children = list(listing)
        except OSError as error:
            raise PlanError(
                f"Cannot read the folder {folder}: {error.strerror}; fix its permissions."
            ) from None
        for child in children:
            key = f"{prefix}/{child.name}" if prefix else child.name
            if child.name.endswith(TEMPORARY_SUFFIX):
                tree.temporaries.append(key)
                continue
            entry = _entry(Path(child.path), child.stat(follow_symlinks=False))
            is_dir = entry.kind == "dir"
            hidden = inside_ignored or rules.matches(child.name, key, is_dir)
            (tree.ignored if hidden else tree.entries)[key] = entry
            if is_dir:
                pending.append((key, hidden))


def _entry(path: Path, info: os.stat_result) -> Entry:
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return Entry("link", target=os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return Entry("dir", mode=mode)
    if stat.S_ISREG(info.st_mode):
        return Entry("file", size=info.st_size, mode=mode)
    raise PlanError(f"{path} is neither a file, a folder nor a link: move it out of the asset.")
