"""Which files count on neither side: built-in ignores plus the manifest's `ignore`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import translate

BUILT_IN_IGNORES = ("__pycache__/", "*.pyc", ".DS_Store", ".pytest_cache/", ".env")

# Files oppdemo writes before renaming them into place; one left behind marks an interrupted run.
TEMPORARY_SUFFIX = ".oppdemo-tmp"


@dataclass(frozen=True)
class IgnoreRules:
    """Glob patterns in the style of .gitignore.

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
