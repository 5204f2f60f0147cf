"""The backups folder: shared with FastOpp's own backups, damaged records, and pruning."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oppdemo.assets import commands
from oppdemo.assets.backups import BackupStore

from .projects import capture, make_project, run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A saved project with three more backups: two saves and a restore."""
    project = make_project(tmp_path / "app")
    commands.save(project)
    for text in ("v2", "v3"):
        (project / "demo_scripts/seed.py").write_text(text)
        commands.save(project)
    (project / "demo_scripts/seed.py").write_text("unsaved")
    commands.restore(project)
    return project


def _ids(project: Path) -> list[str]:
    return [row["id"] for row in json.loads(run_cli(project, "backups", "--json").stdout)]


def test_folders_that_are_not_oppdemos_backups_are_left_alone(project: Path) -> None:
    fastopp = project / "backups/destroy"
    fastopp.mkdir()
    (fastopp / "main.py.20250808_144836").write_text("old main")
    (project / "backups/notes.txt").write_text("mine")
    listed = run_cli(project, "backups")
    assert listed.returncode == 0
    assert "destroy/" not in listed.stdout and "notes" not in listed.stdout
    assert len(listed.stdout.splitlines()) == 4
    pruned = run_cli(project, "backups", "--prune", "--keep", "0", "--yes")
    assert pruned.returncode == 0, pruned.stderr
    assert (fastopp / "main.py.20250808_144836").read_text() == "old main"
    assert (project / "backups/notes.txt").read_text() == "mine"


def test_a_damaged_backup_is_listed_and_the_others_still_undo(project: Path) -> None:
    ids = _ids(project)
    (project / "backups" / ids[1] / "record.json").write_text("{not json")
    os.unlink(project / "backups" / ids[2] / "record.json")
    result = run_cli(project, "backups")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == ids
    assert rows[1][5].startswith("damaged: its record.json is not a valid record")
    assert rows[2][5] == "damaged: its record.json is missing"
    assert rows[3][1] == "restore" and rows[3][5] == "complete"
    restored = capture(project)
    (project / "demo_scripts/seed.py").write_text("unsaved")
    edited = capture(project)
    commands.undo(project, ids[3])  # the restore, newest and whole
    assert capture(project) == edited
    failed = run_cli(project, "undo", ids[1])
    assert failed.returncode == 2
    assert f"Backup {ids[1]} is damaged" in failed.stderr and "Traceback" not in failed.stderr
    assert capture(project) == edited
    assert restored != edited


def test_prune_keeps_the_newest_and_needs_confirmation(project: Path) -> None:
    ids = _ids(project)
    refused = run_cli(project, "backups", "--prune", "--keep", "2")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    dry = run_cli(project, "backups", "--prune", "--keep", "2", "--dry-run")
    assert dry.returncode == 0
    assert [line.split()[2] for line in dry.stdout.splitlines()[:-1]] == ids[:2]
    assert _ids(project) == ids, "a dry run removes nothing"
    done = run_cli(project, "backups", "--prune", "--keep", "2", "--yes", "--json")
    assert json.loads(done.stdout)["removed"] == ids[:2]
    assert _ids(project) == ids[2:]
    assert not [p for p in (project / "backups").iterdir() if p.name.startswith(".partial-")]


def test_prune_by_age(project: Path) -> None:
    store = BackupStore(project, project / "backups")
    ids = store.ids()
    newest = datetime.strptime(ids[-1][:22], "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC)
    later = newest + timedelta(days=10)
    assert store.prune_plan(None, timedelta(days=30), now=later).remove == ()
    plan = store.prune_plan(None, timedelta(days=5), now=later)
    assert [item.id for item in plan.remove] == ids
    plan = store.prune_plan(1, timedelta(days=5), now=later)
    assert [item.id for item in plan.remove] == ids[:-1]
    needs_a_choice = run_cli(project, "backups", "--prune", "--yes")
    assert needs_a_choice.returncode == 2 and "--keep N, --older-than DAYS" in needs_a_choice.stderr


def test_prune_never_removes_what_an_interrupted_undo_needs(project: Path) -> None:
    from oppdemo.assets.engine import reverse_operations

    store = BackupStore(project, project / "backups")
    restore_record = store.latest()
    (project / "demo_scripts/seed.py").write_text("edited")
    operations = reverse_operations(store, restore_record)
    store.begin("undo", operations, undoes=restore_record.id)  # then "killed" before finishing
    plan = store.prune_plan(0, None)
    kept = {item.id: reason for item, reason in plan.protected}
    assert "an interrupted undo needs it" in kept[restore_record.id]
    assert len(kept) == 2, "the interrupted undo's own backup is kept too"
    run_cli(project, "backups", "--prune", "--keep", "0", "--yes")
    assert restore_record.id in store.ids()
    assert commands.undo(project).record is not None, "the undo can still be finished"


def test_the_storage_commands_copies_are_listed_and_pruned(storage_project: Path) -> None:
    uploads = storage_project / "uploads"
    env = {"STORAGE_TYPE": "filesystem", "UPLOAD_DIR": str(uploads), "UPLOAD_URL": "/u"}
    (uploads / "photos").mkdir(parents=True)
    (uploads / "photos/a.jpg").write_bytes(b"a" * 10)
    (uploads / "photos/b.jpg").write_bytes(b"b" * 20)
    removed = run_cli(storage_project, "storage", "rm", "--yes", "photos/a.jpg", env=env)
    assert removed.returncode == 0, removed.stderr
    removed = run_cli(storage_project, "storage", "rm", "--yes", "photos/b.jpg", env=env)
    assert removed.returncode == 0, removed.stderr
    listed = json.loads(run_cli(storage_project, "backups", "--json").stdout)
    assert [(row["command"], row["files"], row["size"]) for row in listed] == [
        ("storage", 1, 10),
        ("storage", 1, 20),
    ]
    first, second = (row["id"] for row in listed)
    assert (storage_project / "backups/storage" / first / "photos/a.jpg").is_file()
    undo = run_cli(storage_project, "undo", first)
    assert undo.returncode == 2
    assert f"storage restore-backup backups/storage/{first}" in undo.stderr
    pruned = run_cli(storage_project, "backups", "--prune", "--keep", "1", "--yes")
    assert pruned.returncode == 0, pruned.stderr
    assert not (storage_project / "backups/storage" / first).exists()
    assert not (storage_project / "backups/storage-headers" / first).exists(), "headers too"
    assert (storage_project / "backups/storage" / second / "photos/b.jpg").is_file()
    assert _ids(storage_project) == [second]
