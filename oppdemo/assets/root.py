"""Find the project root from wherever a command runs, as git finds its work tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = "pyproject.toml"


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` whose pyproject.toml has a [tool.oppdemo] table;
    failing that, the nearest with a pyproject.toml (where the default assets apply, or `init`
    is due); failing that, `start` itself, whose missing pyproject.toml the command names."""
    nearest: Path | None = None
    folder = start.absolute()
    while True:
        try:
            data = (folder / PYPROJECT).read_bytes()
        except OSError:
            data = None
        if data is not None:
            if _has_table(data):
                return folder if folder != start.absolute() else start
            nearest = nearest or folder
        if folder.parent == folder:
            break
        folder = folder.parent
    if nearest is None or nearest == start.absolute():
        return start
    return nearest


def _has_table(data: bytes) -> bool:
    if b"oppdemo" not in data:  # most files say nothing of oppdemo: no need to parse them
        return False
    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(tool, dict) and "oppdemo" in tool
