"""Which files are not demo code: built-in ignores, the manifest's `ignore`, what the project's
`.gitignore` files ignore (with git's semantics), and the data folders' user files.

A hidden file counts on neither side: it is never compared, saved, restored, overwritten or
removed. The scan does not even look inside a hidden folder (node_modules can be large).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fnmatch import translate
from pathlib import Path
from typing import Protocol

BUILT_IN_IGNORES = (
    "__pycache__/",
    "*.pyc",
    ".DS_Store",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    "node_modules/",
    "_site/",
    ".venv/",
    ".env",
)

# Files oppdemo writes before renaming them into place; one left behind marks an interrupted run.
TEMPORARY_SUFFIX = ".oppdemo-tmp"
GITIGNORE = ".gitignore"


class Rules(Protocol):
    """What the scan asks of its rules: is this entry (`key` relative to the scanned root)
    hidden?"""

    def matches(self, name: str, relative_path: str, is_dir: bool) -> bool: ...


@dataclass(frozen=True)
class IgnoreRules:
    """Glob patterns in the style of .gitignore (the built-in ones and the manifest's).

    A pattern ending in '/' matches folders only; a pattern with another '/' is matched against
    the path inside the asset; any other pattern is matched against the name alone.
    """

    patterns: tuple[str, ...] = ()
    # The patterns compiled into four regular expressions: by name or by path, for any entry or
    # for folders only. Scans test every entry, so this is on the hot path.
    _compiled: dict[tuple[bool, bool], re.Pattern[str] | None] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        groups: dict[tuple[bool, bool], list[str]] = {}
        for pattern in self.patterns:
            body = pattern.rstrip("/")
            by_path = "/" in body
            groups.setdefault((by_path, pattern.endswith("/")), []).append(
                translate(body.lstrip("/"))
            )
        compiled = {
            key: re.compile("|".join(f"(?:{part})" for part in parts))
            for key, parts in groups.items()
        }
        object.__setattr__(self, "_compiled", compiled)

    def matches(self, name: str, relative_path: str, is_dir: bool) -> bool:
        for (by_path, folder_only), regex in self._compiled.items():
            if regex is None or (folder_only and not is_dir):
                continue
            if regex.match(relative_path if by_path else name):
                return True
        return False


NO_IGNORES = IgnoreRules()


def ignore_rules(extra: tuple[str, ...] = ()) -> IgnoreRules:
    """The built-in ignores followed by the project's own."""
    return IgnoreRules(BUILT_IN_IGNORES + tuple(extra))


@dataclass(frozen=True)
class DataFolder:
    """A folder of user data (uploads): only its `demo` entries are demo content."""

    path: str
    demo: tuple[str, ...] = ()

    def hides(self, path: str) -> bool | None:
        """True for a user's file in this folder, False for a demo entry or what lies in one,
        None for a path outside the folder (or the folder itself)."""
        if not path.startswith(f"{self.path}/"):
            return None
        inside = path[len(self.path) + 1 :]
        return not any(inside == entry or inside.startswith(f"{entry}/") for entry in self.demo)


class _GitIgnoreFile:
    """One .gitignore file, its patterns translated by pathspec (git's own semantics) and
    joined into two regular expressions, so that each path costs at most two matches: one
    for the patterns without a '/' (git matches them against the name at any depth), tried
    on the name alone, where they need no backtracking; one for the others, on the path."""

    _ANY_DEPTH = "^(?:.+/)?"

    def __init__(self, lines: list[str]) -> None:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

        by_name: list[str] = []
        by_path: list[str] = []
        self.include: dict[str, tuple[int, bool]] = {}
        for index, line in enumerate(lines):
            try:
                regex, include = GitIgnoreSpecPattern.pattern_to_regex(line)
                if regex is None or include is None:
                    continue
                regex = regex.replace("(?P<ps_d>", "(?:")
                re.compile(regex)
            except (ValueError, re.error):
                # A line git cannot use either ('!' alone, a range such as [z-a]) matches
                # nothing, as in git.
                continue
            if line.rstrip().endswith("/**"):
                # `dir/**` matches what is inside `dir`, never `dir` itself (git's rule), which
                # pathspec's form of a folder, 'dir/', would otherwise match.
                regex += "(?=.)"
            name = f"p{index}"
            self.include[name] = (index, include)
            body = line.strip().removeprefix("!").removesuffix("/")
            if "/" not in body and regex.startswith(self._ANY_DEPTH):
                by_name.append(f"(?P<{name}>^{regex[len(self._ANY_DEPTH) :]})")
            else:
                by_path.append(f"(?P<{name}>{regex})")
        # The last pattern that matches decides, as in git: tried last first, the first
        # alternative that matches is that one.
        self.by_name = re.compile("|".join(reversed(by_name))) if by_name else None
        self.by_path = re.compile("|".join(reversed(by_path))) if by_path else None

    def decides(self, path: str) -> bool | None:
        """True (ignored), False (re-included by a '!' pattern) or None (no pattern matches)
        for `path`, relative to the file's folder and ending in '/' for a folder."""
        found: tuple[int, bool] | None = None
        if self.by_name is not None:
            name = path[path.rstrip("/").rfind("/") + 1 :]
            match = self.by_name.match(name)
            if match is not None and match.lastgroup is not None:
                found = self.include[match.lastgroup]
        if self.by_path is not None:
            match = self.by_path.match(path)
            if match is not None and match.lastgroup is not None:
                other = self.include[match.lastgroup]
                if found is None or other[0] > found[0]:
                    found = other
        return None if found is None else found[1]


class GitIgnores:
    """The project's .gitignore files, and those that apply to it from outside (the folders
    above it in its git work tree, and the work tree's .git/info/exclude), read when first
    needed.

    Paths are the working paths relative to the project root: the saved copy of a file is
    judged by where it lives in the working tree, so both sides of a comparison agree.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, _GitIgnoreFile | None] = {}
        self._chains: dict[str, tuple[tuple[int, _GitIgnoreFile], ...]] = {}
        self._outer: tuple[tuple[str, _GitIgnoreFile], ...] | None = None

    def _file(self, folder: str) -> _GitIgnoreFile | None:
        if folder not in self._files:
            self._files[folder] = _read(os.path.join(self.root, folder, GITIGNORE))
        return self._files[folder]

    def _chain(self, folder: str) -> tuple[tuple[int, _GitIgnoreFile], ...]:
        """The project's .gitignore files that apply inside `folder`, deepest first, each with
        the length of the prefix to cut from a path to make it relative to the file's folder."""
        chain = self._chains.get(folder)
        if chain is None:
            parent = folder.rpartition("/")[0] if folder else None
            inherited = self._chain(parent) if parent is not None else ()
            own = self._file(folder)
            prefix = len(folder) + 1 if folder else 0
            chain = ((prefix, own), *inherited) if own is not None else inherited
            self._chains[folder] = chain
        return chain

    def _outside(self) -> tuple[tuple[str, _GitIgnoreFile], ...]:
        """The files that apply from outside the project, deepest first, each with the
        project's path inside the file's folder: the .gitignore files of the folders above
        the project up to the root of its git work tree (a project in a subfolder of a
        repository), then that work tree's .git/info/exclude. None outside a work tree."""
        if self._outer is None:
            found: list[tuple[str, _GitIgnoreFile]] = []
            folder, inside = Path(os.path.abspath(self.root)), ""
            while not (folder / ".git").exists():
                if folder.parent == folder:
                    found = []  # not in a git work tree: the project's own files only
                    break
                folder, inside = folder.parent, f"{folder.name}/{inside}"
                outer = _read(os.path.join(folder, GITIGNORE))
                if outer is not None:
                    found.append((inside, outer))
            else:
                exclude = _read(os.path.join(folder, ".git", "info", "exclude"))
                if exclude is not None:
                    found.append((inside, exclude))
            self._outer = tuple(found)
        return self._outer

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Whether git ignores `path` (its parents are taken as not ignored: the scan does not
        look inside an ignored folder)."""
        tested = f"{path}/" if is_dir else path
        for prefix, gitignore in self._chain(path.rpartition("/")[0]):
            decision = gitignore.decides(tested[prefix:])
            if decision is not None:
                return decision
        for inside, gitignore in self._outside():
            decision = gitignore.decides(inside + tested)
            if decision is not None:
                return decision
        return False


def _read(location: str) -> _GitIgnoreFile | None:
    """The patterns of one file (None when there is no such file to read)."""
    try:
        with open(location, encoding="utf-8", errors="surrogateescape") as handle:
            return _GitIgnoreFile(handle.read().splitlines())
    except OSError:
        return None


@dataclass(frozen=True)
class AssetRules:
    """The rules for the entries of one asset (or of its saved copy), whose working path is
    `working`: hidden are the built-in and manifest ignores, what git ignores, and the user's
    files in data folders; a data folder's `demo` entries are demo code even where git ignores
    them (they are named on purpose; FastOpp's own oppdemo.py saves them too)."""

    working: str
    patterns: IgnoreRules
    data: tuple[DataFolder, ...] = ()
    gitignores: GitIgnores | None = None

    def matches(self, name: str, relative_path: str, is_dir: bool) -> bool:
        if self.patterns.matches(name, relative_path, is_dir):
            return True
        path = f"{self.working}/{relative_path}" if relative_path else self.working
        for folder in self.data:
            hides = folder.hides(path)
            if hides is not None:
                return hides
        return self.gitignores is not None and self.gitignores.ignored(path, is_dir)
