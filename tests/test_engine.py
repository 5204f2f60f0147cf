"""The engine: writes split over two processes, new folders staged whole, rollback of both."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from oppdemo import PlanError
from oppdemo.assets import commands
from oppdemo.assets.backups import BackupStore
from oppdemo.assets.engine import execute
from oppdemo.assets.plan import Operation, Plan

from .projects import capture, make_project, posix_only, run_cli, start_paused

FILES = 1_200  # over the threshold at which half the writes go to a second process


def _bulk_project(root: Path) -> Path:
    project = make_project(root)
    for index in range(FILES):
        path = project / "demo_scripts" / "bulk" / f"g{index % 12:02d}" / f"f{index:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{index}\n")
    return project


@pytest.mark.parametrize("failing", [10, FILES - 10], ids=["first-half", "second-half"])
def test_a_failure_in_either_half_rolls_back_both(tmp_path: Path, failing: int) -> None:
    project = _bulk_project(tmp_path / "app")
    commands.save(project)
    bulk = sorted((project / "demo_scripts/bulk").rglob("*.txt"))
    operations = [Operation("mkdir", "demo_assets/fresh", "dir")]
    for index, path in enumerate(bulk):
        source = path.relative_to(project).as_posix()
        saved = source.replace("demo_scripts/", "demo_assets/scripts/", 1)
        if index == failing:
            source = "demo_scripts/vanished.txt"  # gone after the plan was made
        operations.append(Operation("write", saved, "file", source, existed=True, replaced="file"))
        operations.append(Operation("write", f"demo_assets/fresh/{index}.txt", "file", source))
    for path in bulk:
        path.write_text("edited\n")
    before = capture(project)
    store = BackupStore(project, project / "backups")
    with pytest.raises(PlanError, match="failed at demo_scripts/vanished.txt .*put back"):
        execute(store, Plan("save", tuple(operations)))
    assert capture(project) == before
    assert not [p for p in project.rglob("*") if p.name.endswith(".oppdemo-tmp")]


def test_a_new_folder_appears_whole_and_leftovers_of_a_killed_run_are_cleared(
    tmp_path: Path,
) -> None:
    project = _bulk_project(tmp_path / "app")
    leftover = project / "demo_assets" / ".scripts.dead01.oppdemo-tmp"
    (leftover / "bulk").mkdir(parents=True)
    (leftover / "bulk" / "half.txt").write_text("half a fi")
    commands.save(project)
    assert sorted(os.listdir(project / "demo_assets")) == ["scripts", "services"]
    assert commands.diff(project).in_sync


@posix_only("SIGKILL")
def test_a_killed_save_of_a_new_tree_leaves_it_absent_or_whole(tmp_path: Path) -> None:
    project = _bulk_project(tmp_path / "app")
    assert run_cli(project, "save").returncode == 0
    for point in range(1, 6):
        for folder in ("scripts", "services"):
            subprocess.run(["rm", "-rf", str(project / "demo_assets" / folder)], check=True)
        # Killed before one of the save's operations, spread over the half that its own
        # process does (a forked helper writes the other half meanwhile).
        count = 1 + (FILES // 2) * point // 6
        start_paused(project, f"operation@{count}", "save").finish(signal.SIGKILL)
        scripts = project / "demo_assets" / "scripts"
        if scripts.exists():
            assert sum(1 for _ in scripts.rglob("*.txt")) == FILES, "never a half-filled folder"
        assert run_cli(project, "save").returncode == 0
        assert run_cli(project, "diff").returncode == 0
        assert not [p for p in project.rglob("*") if p.name.endswith(".oppdemo-tmp")]
