"""Unified diffs of text files for `diff --patch`."""

from __future__ import annotations

import difflib
from pathlib import Path


def file_patch(root: Path, saved: str, working: str) -> str | None:
    """A unified diff from the saved copy to the working file; None when either is binary."""
    old = _text_lines(root / saved)
    new = _text_lines(root / working)
    if old is None or new is None:
        return None
    lines = difflib.unified_diff(old, new, f"a/{saved}", f"b/{working}")
    return "".join(line if line.endswith("\n") else f"{line}\n" for line in lines)


def _text_lines(path: Path) -> list[str] | None:
    """The lines of a text file, [] for a path that is not a regular file, None for binary."""
    if not path.is_file() or path.is_symlink():
        return []
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None
