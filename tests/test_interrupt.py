"""Ctrl-C and SIGTERM: a changing command stops at a file boundary and puts everything back."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from .projects import capture, make_project, posix_only, run_cli, start_paused


def _edited_project(root: Path, files: int = 3_000) -> Path:
    project = make_project(root)
    bulk = project / "demo_scripts" / "bulk"
    for index in range(files):
        folder = bulk / f"group{index % 30:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{index:05d}.txt").write_text(f"{index}\n" * 50)
    assert run_cli(project, "save").returncode == 0
    for path in bulk.rglob("*.txt"):
        path.write_text("edited\n")
    return project


def _our_backups(project: Path) -> set[str]:
    return {name for name in os.listdir(project / "backups") if name[:1].isdigit()}


@posix_only("SIGINT and SIGTERM sent to another process")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_restore_puts_everything_back(
    tmp_path: Path, signum: int, code: int
) -> None:
    project = _edited_project(tmp_path / "app")
    edited = capture(project, exclude=("backups",))
    before = _our_backups(project)
    # Paused before its 100th file operation: the backup is complete, changes have begun.
    paused = start_paused(project, "operation@100", "restore", "--yes")
    assert _our_backups(project) - before, "the restore started"
    ended = paused.finish(signum)
    assert ended.returncode == code, ended.stdout + ended.stderr
    assert "Traceback" not in ended.stderr
    message = ended.stderr.strip()
    assert message.count("\n") == 0, "one sentence"
    assert "interrupted" in message.lower() and "nothing was changed" in message
    assert capture(project, exclude=("backups",)) == edited
    assert _our_backups(project) == before, "a rolled-back command leaves no backup behind"
    assert not list(project.rglob("*.oppdemo-tmp"))
    assert run_cli(project, "diff").returncode == 1
