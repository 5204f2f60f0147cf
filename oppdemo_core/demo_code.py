"""Load the project's own demo code (demo_scripts/, services/storage/), which destroy removes."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from .errors import OppdemoError

_DEMO_PACKAGES = ("demo_scripts", "services", "demo_app")


class DemoCodeMissingError(OppdemoError):
    """The demo code a command needs is not in the working tree."""


def import_demo_module(project: Path, name: str) -> ModuleType:
    """Import `name` from `project`, never from wherever oppdemo itself was started."""
    tool_folder = Path(__file__).resolve().parent.parent
    project = project.resolve()
    sys.path[:] = [str(project)] + [
        entry for entry in sys.path if Path(entry or ".").resolve() != tool_folder
    ]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _DEMO_PACKAGES:
            raise
        raise DemoCodeMissingError(
            f"The demo code is gone ({(error.name or '').replace('.', '/')}/ is missing): "
            "`uv run python oppdemo.py restore` brings it back."
        ) from None
