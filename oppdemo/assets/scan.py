"""Walk an asset's folder (or single file) into a flat map of entries, never following links."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from oppdemo.assets.ignore import TEMPORARY_SUFFIX, Rules
from oppdemo.errors import PlanError

Kind = Literal["file", "link", "dir"]


class Entry(NamedTuple):
    """What one path is: its kind, (for a folder) its permission bits, (for a link) its target.

    Files carry no size or mode: the walk then needs no stat call per file, which is most of a
    scan's cost; the compare reads sizes from the open files and copies keep modes themselves.
    """

    kind: Kind
    mode: int = 0o755
    target: str = ""


FILE = Entry("file")


@dataclass
class Tree:
    """The entries under `root`, keyed by POSIX path relative to it ('' is `root` itself).

    `ignored` holds what the rules hid (an ignored folder as one entry: the scan does not look
    inside it), which no command touches, and `temporaries` the leftovers of an interrupted
    run, so commands can clear them out.
    """

    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    ignored: dict[str, Entry] = field(default_factory=dict)
    temporaries: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return "" in self.entries

    @property
    def occupied(self) -> set[str]:
        """The folders ('' for the root) that hold ignored entries, and so must stay."""
        folders: set[str] = set()
        for key in self.ignored:
            while key:
                key = key.rpartition("/")[0]
                if key in folders:
                    break
                folders.add(key)
        return folders


def scan_tree(root: Path, rules: Rules) -> Tree:
    """Scan `root`, which may be a folder, a file, a symlink or missing."""
    tree = Tree(root)
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return tree
    except OSError as error:
        raise PlanError(f"Cannot read {root}: {error.strerror}; fix its permissions.") from None
    if stat.S_ISLNK(info.st_mode):
        tree.entries[""] = Entry("link", target=os.readlink(root))
    elif stat.S_ISDIR(info.st_mode):
        tree.entries[""] = Entry("dir", stat.S_IMODE(info.st_mode))
        _walk(tree, rules)
    elif stat.S_ISREG(info.st_mode):
        tree.entries[""] = FILE
    else:
        raise PlanError(f"{root} is neither a file, a folder nor a link: move it out of the way.")
    return tree


def _walk(tree: Tree, rules: Rules) -> None:
    entries, ignored, temporaries = tree.entries, tree.ignored, tree.temporaries
    pending = [""]
    while pending:
        prefix = pending.pop()
        folder = os.path.join(tree.root, prefix)
        try:
            with os.scandir(folder) as listing:
                children = list(listing)
        except OSError as error:
            raise PlanError(
                f"Cannot read the folder {folder}: {error.strerror}; fix its permissions."
            ) from None
        for child in children:
            name = child.name
            key = f"{prefix}/{name}" if prefix else name
            if name.endswith(TEMPORARY_SUFFIX):
                temporaries.append(key)
                continue
            # The kind comes from the directory listing itself (d_type): no stat call.
            if child.is_symlink():
                entry = Entry("link", target=os.readlink(child.path))
            elif child.is_file():
                entry = FILE
            elif child.is_dir():
                entry = Entry("dir", stat.S_IMODE(child.stat(follow_symlinks=False).st_mode))
            else:
                raise PlanError(
                    f"{child.path} is neither a file, a folder nor a link: move it out of the way."
                )
            is_dir = entry.kind == "dir"
            if rules.matches(name, key, is_dir):
                # The user's: kept as one entry, never looked into (node_modules is large).
                ignored[key] = entry
                continue
            entries[key] = entry
            if is_dir:
                pending.append(key)
