"""Which files count on neither side: built-in ignores plus the manifest's `ignore`."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

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

    def matches(self, name: str, relative_path: str, is_dir: bool) -> bool:
        for pattern in self.patterns:
            folder_only = pattern.endswith("/")
            body = pattern.rstrip("/")
            if folder_only and not is_dir:
                continue
            subject = relative_path if "/" in body else name
            if fnmatchcase(subject, body.lstrip("/")):
                return True
        return False


NO_IGNORES = IgnoreRules()


def ignore_rules(extra: tuple[str, ...] = ()) -> IgnoreRules:
    """The built-in ignores followed by the project's own."""
    return IgnoreRules(BUILT_IN_IGNORES + tuple(extra))
