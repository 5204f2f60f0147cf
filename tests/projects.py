"""Temporary FastOpp-style projects for the oppdemo tests, and a way to capture a whole tree."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

PYPROJECT = """\
[project]
name = "demo-app"
version = "0.1.0"

[tool.oppdemo]
ignore = ["*.log"]

[[tool.oppdemo.assets]]
path = "services/storage"

[[tool.oppdemo.assets]]
path = "demo_scripts"
saved = "scripts"
"""


def make_project(root: Path, pyproject: str = PYPROJECT) -> Path:
    """A project with two assets in its working tree and no snapshot yet."""
    files = {
        "pyproject.toml": pyproject,
        "services/__init__.py": "",
        "services/storage/__init__.py": "from .base import Storage\n",
        "services/storage/base.py": "class Storage:\n    pass\n",
        "services/storage/backends/s3.py": "BUCKET = 'demo'\n",
        "demo_scripts/seed.py": "print('seeding')\n",
        "demo_scripts/data/photos.json": '{"photos": []}\n',
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "demo_scripts" / "seed.py").chmod(0o755)
    (root / "demo_scripts" / "data" / "logo.bin").write_bytes(bytes(range(256)) * 4)
    os.symlink("seed.py", root / "demo_scripts" / "run")
    return root


def capture(root: Path, exclude: tuple[str, ...] = ("backups",)) -> dict[str, tuple[object, ...]]:
    """Every path under `root` with its kind, permission bits and bytes (or link target)."""
    state: dict[str, tuple[object, ...]] = {}
    for directory, folders, files in os.walk(root):
        relative_dir = Path(directory).relative_to(root)
        if relative_dir.parts and relative_dir.parts[0] in exclude:
            continue
        for name in folders + files:
            path = Path(directory, name)
            key = (relative_dir / name).as_posix()
            if key in exclude:
                continue
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                state[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[key] = ("dir", mode)
            else:
                state[key] = ("file", mode, path.read_bytes())
    return state


def run_cli(
    project: Path,
    *arguments: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    wrapper: tuple[str, ...] = (),
    python_flags: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `python oppdemo.py -C project ...` in a real subprocess, without a terminal.

    `wrapper` goes before the interpreter (setpriv, say), `python_flags` right after it.
    """
    oppdemo = str(PROJECT_ROOT / "oppdemo.py")
    return subprocess.run(
        [*wrapper, sys.executable, *python_flags, oppdemo, "-C", str(project), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )
