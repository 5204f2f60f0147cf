"""Crash safety: SIGKILL a real restore at many points, then finish it with a rerun or an undo."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

from .projects import capture, make_project, posix_only, run_cli, start_paused

KILL_POINTS = 24


def _build(project: Path) -> None:
    """A large demo_scripts tree, saved, then heavily edited so a restore has much to do."""
    scripts = project / "demo_scripts" / "bulk"
    for index in range(1_500):
        folder = scripts / f"group{index % 40:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{index:05d}.txt").write_bytes(f"{index}\n".encode() * 300)
    assert run_cli(project, "save").returncode == 0
    for index in range(0, 1_500, 3):
        path = scripts / f"group{index % 40:02d}" / f"file{index:05d}.txt"
        path.write_bytes(b"edited\n" * 500)
    for index in range(1, 1_500, 3):
        (scripts / f"group{index % 40:02d}" / f"file{index:05d}.txt").unlink()
    for index in range(500):
        (scripts / f"group{index % 40:02d}" / f"new{index:05d}.txt").write_text("new\n")


def _operations(project: Path) -> int:
    """How many file operations the restore will do (it pauses before one of them)."""
    result = run_cli(project, "restore", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout)["operations"])


def _working(project: Path) -> dict[str, tuple[object, ...]]:
    return capture(project / "demo_scripts")


def _saved(project: Path) -> dict[str, tuple[object, ...]]:
    return capture(project / "demo_assets" / "scripts")


@posix_only("SIGKILL")
def test_killed_restore_is_completed_by_rerun_or_reversed_by_undo(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    _build(project)
    template = tmp_path / "edited"
    shutil.copytree(project / "demo_scripts", template, symlinks=True)
    edited, saved = _working(project), _saved(project)
    assert edited != saved

    operations = _operations(project)
    assert operations >= 1_500
    assert run_cli(project, "restore", "--yes").returncode == 0
    assert _working(project) == saved

    interrupted_midway = 0
    for point in range(KILL_POINTS):
        shutil.rmtree(project / "demo_scripts")
        shutil.copytree(template, project / "demo_scripts", symlinks=True)
        backups_before = set(os.listdir(project / "backups"))
        # Killed just before one of the restore's file operations (the first: its backup is
        # complete and nothing is changed yet). On Linux a forked helper does the second half
        # of the writes meanwhile, so the command's own process does at least half of them.
        count = 1 + (operations // 2) * point // KILL_POINTS
        start_paused(project, f"operation@{count}", "restore", "--yes").finish(signal.SIGKILL)
        state = _working(project)
        if state not in (edited, saved):
            interrupted_midway += 1
        assert _saved(project) == saved, "the snapshot is never touched by restore"
        new_backups = set(os.listdir(project / "backups")) - backups_before - {".oppdemo.lock"}
        if point % 2 == 0:
            result = run_cli(project, "restore", "--yes")
            assert result.returncode == 0, result.stderr
            assert _working(project) == saved
        else:
            if any(not name.startswith(".partial-") for name in new_backups):
                result = run_cli(project, "undo")
                assert result.returncode == 0, result.stderr
            assert _working(project) == edited
        assert not list((project / "demo_scripts").rglob("*.oppdemo-tmp"))
    print(f"{interrupted_midway} of {KILL_POINTS} kills landed mid-change")
    assert interrupted_midway >= 3, "the kills landed while files were being changed"
