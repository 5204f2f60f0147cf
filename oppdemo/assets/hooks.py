"""`[tool.oppdemo.hooks]`: commands run in the project root after save, restore or destroy
changed files (FastOpp resets its database after removing the demo)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from oppdemo.errors import EXIT_DRIFT, OppdemoError, PlanError


class HookFailedError(OppdemoError):
    """A hook failed; the files the command changed stay changed (and undoable)."""

    exit_code = EXIT_DRIFT


def shown(command: tuple[str, ...]) -> str:
    return shlex.join(command)


def check_hooks(root: Path, event: str, commands: tuple[tuple[str, ...], ...]) -> None:
    """Refuse, before anything changes, a hook whose program cannot be found."""
    for command in commands:
        program = command[0]
        found = (
            (root / program).is_file()
            if "/" in program or os.sep in program
            else shutil.which(program) is not None
        )
        if not found:
            raise PlanError(
                f"The {event} hook `{shown(command)}` cannot run: {program!r} is not a program "
                "on PATH (or a file of the project); fix [tool.oppdemo.hooks], or pass "
                "--no-hooks. Nothing was changed."
            )


def run_hooks(
    root: Path, event: str, commands: tuple[tuple[str, ...], ...], output: TextIO | None = None
) -> None:
    """Run each command (an argument list, no shell) in `root`, its output shown on `output`
    (standard output by default); stop at the first that fails."""
    for command in commands:
        try:
            finished = subprocess.run(
                list(command), cwd=root, stdout=output or sys.stdout, stderr=sys.stderr
            )
        except OSError as error:
            raise HookFailedError(
                f"The {event} hook `{shown(command)}` could not start ({error.strerror}): fix it "
                "in [tool.oppdemo.hooks]; the files were changed and stay so (`oppdemo undo` "
                "puts them back)."
            ) from None
        if finished.returncode != 0:
            raise HookFailedError(
                f"The {event} hook `{shown(command)}` failed (exit {finished.returncode}); the "
                "files were changed and stay so (`oppdemo undo` puts them back)."
            )
