"""save, restore, destroy, diff and undo, called as plain functions on real temporary projects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from oppdemo import PlanError
from oppdemo.assets import commands

from .projects import CAN_SYMLINK, capture, make_project, needs_symlinks, posix_only


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "app")


@pytest.fixture
def saved_project(project: Path) -> Path:
    commands.save(project)
    return project


def test_save_mirrors_files_modes_times_and_links(project: Path) -> None:
    outcome = commands.save(project)
    assert outcome.record is not None
    assert outcome.plan.count("copy") == (7 if CAN_SYMLINK else 6)
    snapshot = project / "demo_assets"
    if os.name != "nt":
        assert (snapshot / "scripts" / "seed.py").stat().st_mode & 0o777 == 0o755
    if CAN_SYMLINK:
        assert os.readlink(snapshot / "scripts" / "run") == "seed.py"
    original = project / "services" / "storage" / "base.py"
    copy = snapshot / "services" / "storage" / "base.py"
    assert copy.read_bytes() == original.read_bytes()
    assert copy.stat().st_mtime_ns == original.stat().st_mtime_ns
    assert commands.diff(project).in_sync


def test_save_copies_only_what_differs_and_removes_what_was_deleted(saved_project: Path) -> None:
    snapshot = saved_project / "demo_assets"
    untouched_inode = (snapshot / "services/storage/base.py").stat().st_ino
    shutil.rmtree(saved_project / "services/storage/backends")
    (saved_project / "demo_scripts/seed.py").write_text("print('changed')\n")
    outcome = commands.save(saved_project)
    assert [(op.verb, op.path) for op in outcome.plan.operations] == [
        ("remove", "demo_assets/services/storage/backends/s3.py"),
        ("remove folder", "demo_assets/services/storage/backends"),
        ("overwrite", "demo_assets/scripts/seed.py"),
    ]
    assert not (snapshot / "services/storage/backends").exists()
    assert (snapshot / "services/storage/base.py").stat().st_ino == untouched_inode
    assert commands.diff(saved_project).in_sync


def test_diff_lists_added_modified_and_deleted_by_working_path(saved_project: Path) -> None:
    (saved_project / "services/storage/new.py").write_text("x = 1\n")
    (saved_project / "services/storage/base.py").write_text("class Storage:\n    passed\n")
    (saved_project / "demo_scripts/data/photos.json").unlink()
    report = commands.diff(saved_project)
    storage, scripts = report.assets
    assert not report.in_sync
    assert storage.added == ("services/storage/new.py",)
    assert storage.modified == ("services/storage/base.py",)
    assert scripts.deleted == ("demo_scripts/data/photos.json",)
    assert scripts.saved == "demo_assets/scripts"
    assert report.to_dict()["assets"][1]["deleted"] == ["demo_scripts/data/photos.json"]


def test_same_size_change_is_found_by_content(saved_project: Path) -> None:
    path = saved_project / "demo_scripts/data/logo.bin"
    data = bytearray(path.read_bytes())
    data[700] ^= 0xFF
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert commands.diff(saved_project).assets[1].modified == ("demo_scripts/data/logo.bin",)


def test_a_file_replaced_by_a_folder_counts_once_as_modified(saved_project: Path) -> None:
    (saved_project / "services/storage/base.py").unlink()
    (saved_project / "services/storage/base.py").mkdir()
    (saved_project / "services/storage/base.py/inner.py").write_text("")
    storage = commands.diff(saved_project).assets[0]
    assert storage.modified == ("services/storage/base.py",)
    assert storage.added == ()
    commands.save(saved_project)
    assert (saved_project / "demo_assets/services/storage/base.py/inner.py").is_file()
    assert commands.diff(saved_project).in_sync


def test_ignored_files_count_on_neither_side(saved_project: Path) -> None:
    cache = saved_project / "services/storage/__pycache__"
    cache.mkdir()
    (cache / "base.cpython-311.pyc").write_bytes(b"\0" * 10)
    (saved_project / "demo_scripts/run.log").write_text("log")
    (saved_project / "demo_scripts/.env").write_text("S3_SECRET_KEY=x")
    assert commands.diff(saved_project).in_sync
    assert commands.save(saved_project).record is None
    assert not (saved_project / "demo_assets/services/storage/__pycache__").exists()


@needs_symlinks
def test_symlinks_are_compared_as_links_never_followed(saved_project: Path) -> None:
    (saved_project / "demo_scripts/seed.py").write_text("print('changed')\n")
    scripts = commands.diff(saved_project).assets[1]
    assert scripts.modified == ("demo_scripts/seed.py",)
    os.remove(saved_project / "demo_scripts/run")
    os.symlink("data/photos.json", saved_project / "demo_scripts/run")
    scripts = commands.diff(saved_project).assets[1]
    assert scripts.modified == ("demo_scripts/run", "demo_scripts/seed.py")


def test_restore_mirrors_the_snapshot_back(saved_project: Path) -> None:
    expected = capture(saved_project)
    (saved_project / "services/storage/base.py").write_text("broken")
    (saved_project / "services/storage/extra.py").write_text("extra")
    shutil.rmtree(saved_project / "demo_scripts/data")
    commands.restore(saved_project)
    assert capture(saved_project) == expected


@needs_symlinks
def test_restore_replaces_a_link_to_outside_without_writing_through(
    saved_project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("precious")
    target = saved_project / "services/storage/base.py"
    target.unlink()
    os.symlink(outside, target)
    commands.restore(saved_project)
    assert outside.read_text() == "precious"
    assert not target.is_symlink()
    assert target.read_text() == "class Storage:\n    pass\n"


@needs_symlinks
def test_a_linked_folder_above_an_asset_is_refused(saved_project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.move(saved_project / "services", elsewhere)
    os.symlink(elsewhere, saved_project / "services")
    before = capture(elsewhere)
    for command in (commands.restore, commands.destroy):
        with pytest.raises(PlanError, match="services is a symbolic link"):
            command(saved_project)
    assert capture(elsewhere) == before


def test_destroy_removes_the_assets_and_undo_brings_them_back(saved_project: Path) -> None:
    cache = saved_project / "services/storage/__pycache__"
    cache.mkdir()
    (cache / "x.pyc").write_bytes(b"cache")
    before = capture(saved_project)
    outcome = commands.destroy(saved_project)
    # The ignored cache is not the demo's: it stays, and so does the folder that holds it.
    assert sorted(p.name for p in (saved_project / "services/storage").rglob("*")) == [
        "__pycache__",
        "x.pyc",
    ]
    assert not (saved_project / "demo_scripts").exists()
    assert (saved_project / "services/__init__.py").exists()
    assert outcome.record is not None
    commands.undo(saved_project)
    assert capture(saved_project) == before


def test_destroy_refuses_unsaved_changes_unless_forced(saved_project: Path) -> None:
    (saved_project / "demo_scripts/seed.py").write_text("unsaved work")
    before = capture(saved_project)
    with pytest.raises(PlanError, match=r"1 demo file.*first: demo_scripts/seed.py.*--force"):
        commands.destroy(saved_project)
    assert capture(saved_project) == before
    commands.destroy(saved_project, force=True)
    assert not (saved_project / "demo_scripts").exists()
    assert commands.destroy(saved_project).record is None, "destroying again needs no --force"


def test_destroy_puts_the_base_in_place(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app",
        '[[tool.oppdemo.assets]]\npath = "services/storage"\nbase = "base/storage"\n',
    )
    (project / "base/storage").mkdir(parents=True)
    (project / "base/storage/__init__.py").write_text("# minimal\n")
    commands.save(project)
    commands.destroy(project)
    assert sorted(os.listdir(project / "services/storage")) == ["__init__.py"]
    assert (project / "services/storage/__init__.py").read_text() == "# minimal\n"


@needs_symlinks
def test_undo_reverses_save_restore_and_undo_exactly(saved_project: Path) -> None:
    before_save = capture(saved_project)
    (saved_project / "services/storage/base.py").write_text("v2")
    (saved_project / "services/storage/base.py").chmod(0o600)
    (saved_project / "demo_scripts/run").unlink()
    after_edit = capture(saved_project)
    commands.save(saved_project)
    commands.undo(saved_project)
    assert capture(saved_project) == after_edit
    assert not commands.diff(saved_project).in_sync
    commands.restore(saved_project)
    assert capture(saved_project) == before_save
    restore_record = commands.undo(saved_project).record
    assert capture(saved_project) == after_edit
    assert restore_record is not None
    commands.undo(saved_project)
    assert capture(saved_project) == before_save


def test_undo_of_an_older_backup_by_id(saved_project: Path) -> None:
    first = capture(saved_project)
    (saved_project / "demo_scripts/new.py").write_text("new")
    save_record = commands.save(saved_project).record
    assert save_record is not None
    commands.undo(saved_project, save_record.id)
    assert capture(saved_project) == {
        **first,
        "demo_scripts/new.py": ("file", 0o644, b"new"),
    }


def test_dry_run_changes_nothing(saved_project: Path) -> None:
    (saved_project / "demo_scripts/seed.py").write_text("changed")
    before = capture(saved_project, exclude=())
    for run in (
        lambda: commands.save(saved_project, dry_run=True),
        lambda: commands.restore(saved_project, dry_run=True),
        lambda: commands.destroy(saved_project, dry_run=True, force=True),
        lambda: commands.undo(saved_project, dry_run=True),
    ):
        outcome = run()
        assert outcome.record is None
        assert outcome.plan.operations
    assert capture(saved_project, exclude=()) == before


def test_missing_snapshot_is_a_clear_error_and_changes_nothing(project: Path) -> None:
    before = capture(project, exclude=())
    for run in (lambda: commands.diff(project), lambda: commands.restore(project)):
        with pytest.raises(PlanError, match="snapshot folder demo_assets/ does not exist"):
            run()
    with pytest.raises(PlanError, match="There is no snapshot"):
        commands.destroy(project)
    assert capture(project, exclude=()) == before


def test_asset_missing_on_both_sides_is_an_error(saved_project: Path) -> None:
    shutil.rmtree(saved_project / "demo_scripts")
    shutil.rmtree(saved_project / "demo_assets/scripts")
    with pytest.raises(PlanError, match="demo_scripts is missing from both"):
        commands.diff(saved_project)


def test_save_refuses_when_an_asset_is_gone_from_the_working_tree(saved_project: Path) -> None:
    shutil.rmtree(saved_project / "demo_scripts")
    before = capture(saved_project, exclude=())
    with pytest.raises(PlanError, match="demo_scripts is missing from the working tree"):
        commands.save(saved_project)
    assert capture(saved_project, exclude=()) == before


def test_restore_clears_temporaries_left_by_a_crash(saved_project: Path) -> None:
    leftover = saved_project / "services/storage/.base.py.1234abcd.oppdemo-tmp"
    leftover.write_text("half a fi")
    assert commands.diff(saved_project).in_sync
    commands.restore(saved_project)
    assert not leftover.exists()


def _immutable(path: Path, on: bool) -> None:
    """Make a folder unwritable even for root (whom permission bits do not stop)."""
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"chattr is not supported on this filesystem: {result.stderr!r}")


@posix_only("chattr or folder permission bits that stop writes")
def test_a_refused_write_rolls_everything_back(saved_project: Path) -> None:
    for name in ("base.py", "__init__.py"):
        (saved_project / "services/storage" / name).write_text(f"edited {name}")
    (saved_project / "demo_scripts/extra.py").write_text("extra")
    blocked = saved_project / "demo_assets/services/storage"
    if os.geteuid() == 0:
        _immutable(blocked, True)
    else:
        blocked.chmod(0o555)
    before = capture(saved_project)
    try:
        with pytest.raises(PlanError, match="(Permission denied|Operation not permitted|put back)"):
            commands.save(saved_project)
        assert capture(saved_project) == before
    finally:
        if os.geteuid() == 0:
            _immutable(blocked, False)
        else:
            blocked.chmod(0o755)


def test_a_step_that_fails_half_way_is_rolled_back(saved_project: Path) -> None:
    from oppdemo.assets.backups import BackupStore
    from oppdemo.assets.engine import execute
    from oppdemo.assets.plan import Operation, Plan

    (saved_project / "demo_scripts/seed.py").write_text("newer")
    before = capture(saved_project)
    plan = Plan(
        "save",
        (
            Operation("mkdir", "demo_assets/fresh", "dir"),
            Operation("write", "demo_assets/fresh/a.py", "file", "demo_scripts/seed.py"),
            Operation("write", "demo_assets/scripts/seed.py", "file", "demo_scripts/seed.py", True),
            Operation("write", "demo_assets/scripts/zz.py", "file", "demo_scripts/vanished.py"),
        ),
    )
    store = BackupStore(saved_project, saved_project / "backups")
    with pytest.raises(PlanError, match="failed at demo_scripts/vanished.py .*put back as it was"):
        execute(store, plan)
    assert capture(saved_project) == before
    assert len(store.ids()) == 1, "only the earlier save's backup: the rolled-back one is gone"


def test_undo_of_a_restore_leaves_the_caches_made_since_where_they_stand(
    saved_project: Path,
) -> None:
    shutil.rmtree(saved_project / "services/storage/backends")
    before = capture(saved_project)
    commands.restore(saved_project)
    cache = saved_project / "services/storage/backends/__pycache__"
    cache.mkdir()
    (cache / "s3.cpython-311.pyc").write_bytes(b"compiled")
    commands.undo(saved_project)
    # Ignored files are the user's: the undo leaves them, and the folders that hold them.
    left = capture(saved_project)
    assert (cache / "s3.cpython-311.pyc").read_bytes() == b"compiled"
    assert set(left) - set(before) == {
        "services/storage/backends",
        "services/storage/backends/__pycache__",
        "services/storage/backends/__pycache__/s3.cpython-311.pyc",
    }
    assert {key: left[key] for key in before} == before
    commands.undo(saved_project)
    assert (saved_project / "services/storage/backends/s3.py").is_file()


def test_an_interrupted_undo_is_finished_by_the_next_undo(saved_project: Path) -> None:
    from oppdemo.assets.backups import BackupStore
    from oppdemo.assets.engine import apply_operations, reverse_operations

    before_restore = capture(saved_project)
    (saved_project / "services/storage/base.py").write_text("edited")
    (saved_project / "demo_scripts/new.py").write_text("new")
    shutil.rmtree(saved_project / "demo_scripts/data")
    edited = capture(saved_project)
    restore_record = commands.restore(saved_project).record
    assert restore_record is not None and capture(saved_project) == before_restore
    store = BackupStore(saved_project, saved_project / "backups")
    operations = reverse_operations(store, restore_record)
    undo_record = store.begin("undo", operations, undoes=restore_record.id)
    apply_operations(saved_project, operations[: len(operations) // 2])  # then "killed"
    assert capture(saved_project) not in (edited, before_restore)
    commands.undo(saved_project)
    assert capture(saved_project) == edited
    assert not store.load(undo_record.id).complete


FILE_ASSETS = """\
[[tool.oppdemo.assets]]
path = "main.py"
base = "base_assets/main.py"

[[tool.oppdemo.assets]]
path = "models.py"

[[tool.oppdemo.assets]]
path = "services/storage"
"""


@pytest.fixture
def file_assets(tmp_path: Path) -> Path:
    """FastOpp's shape: single-file assets (one with a base) beside a folder asset."""
    project = make_project(tmp_path / "app", FILE_ASSETS)
    (project / "main.py").write_text("app = 'full demo'\n")
    (project / "main.py").chmod(0o640)
    (project / "models.py").write_text("class Product: ...\n")
    (project / "base_assets").mkdir()
    (project / "base_assets/main.py").write_text("app = 'minimal'\n")
    commands.save(project)
    return project


def test_single_file_assets_diff_save_and_restore(file_assets: Path) -> None:
    assert (file_assets / "demo_assets/main.py").read_text() == "app = 'full demo'\n"
    assert commands.diff(file_assets).in_sync
    (file_assets / "main.py").write_text("app = 'edited'\n")
    (file_assets / "models.py").unlink()
    report = commands.diff(file_assets)
    changes = {a.path: (a.added, a.modified, a.deleted) for a in report.assets}
    assert changes["main.py"] == ((), ("main.py",), ())
    assert changes["models.py"] == ((), (), ("models.py",))
    assert changes["services/storage"] == ((), (), ())
    edited = capture(file_assets)
    dry = commands.restore(file_assets, dry_run=True)
    assert [(op.verb, op.path) for op in dry.plan.operations] == [
        ("overwrite", "main.py"),
        ("copy", "models.py"),
    ]
    assert capture(file_assets) == edited
    commands.restore(file_assets)
    assert (file_assets / "main.py").read_text() == "app = 'full demo'\n"
    assert (file_assets / "main.py").stat().st_mode & 0o777 == 0o640
    assert commands.diff(file_assets).in_sync
    commands.undo(file_assets)
    assert capture(file_assets) == edited
    with pytest.raises(PlanError, match="models.py is missing from the working tree"):
        commands.save(file_assets)
    (file_assets / "models.py").write_text("class Webinar: ...\n")
    (file_assets / "main.py").write_text("app = 'saved edit'\n")
    commands.save(file_assets)
    assert (file_assets / "demo_assets/main.py").read_text() == "app = 'saved edit'\n"


def test_single_file_assets_destroy_with_and_without_base_and_undo(file_assets: Path) -> None:
    before = capture(file_assets)
    dry = commands.destroy(file_assets, dry_run=True)
    assert {(op.verb, op.path) for op in dry.plan.operations} >= {
        ("overwrite", "main.py"),
        ("remove", "models.py"),
    }
    assert capture(file_assets) == before
    commands.destroy(file_assets)
    assert (file_assets / "main.py").read_text() == "app = 'minimal'\n"
    assert not (file_assets / "models.py").exists()
    assert not (file_assets / "services/storage").exists()
    assert (file_assets / "demo_assets/models.py").exists(), "the snapshot is kept"
    commands.undo(file_assets)
    assert capture(file_assets) == before


@needs_symlinks
@pytest.mark.parametrize(
    "target",
    ["../../../outside/canary.py", "../../../outside", "nowhere/missing.py"],
    ids=["to-a-file", "to-a-folder", "dangling"],
)
def test_undo_brings_a_replaced_link_back_as_a_link(saved_project: Path, target: str) -> None:
    outside = saved_project.parent / "outside"
    outside.mkdir()
    (outside / "canary.py").write_text("canary\n")
    link = saved_project / "services/storage/base.py"
    link.unlink()
    os.symlink(target, link)
    with_link = capture(saved_project)
    commands.restore(saved_project)
    assert not link.is_symlink() and link.read_text() == "class Storage:\n    pass\n"
    commands.undo(saved_project)
    assert os.readlink(link) == target
    assert capture(saved_project) == with_link
    assert (outside / "canary.py").read_text() == "canary\n", "nothing written through the link"
    commands.undo(saved_project)  # redo the restore: the link goes again, and comes back
    assert not link.is_symlink()
    commands.undo(saved_project)
    assert capture(saved_project) == with_link


@needs_symlinks
def test_undo_brings_back_a_link_inside_the_snapshot(saved_project: Path) -> None:
    saved = saved_project / "demo_assets/services/storage/base.py"
    saved.unlink()
    os.symlink("../../../../elsewhere.py", saved)
    with_link = capture(saved_project)
    commands.save(saved_project)
    assert not saved.is_symlink()
    commands.undo(saved_project)
    assert os.readlink(saved) == "../../../../elsewhere.py"
    assert capture(saved_project) == with_link


def test_destroy_leaves_a_destroyed_state_that_diff_passes_and_save_refuses(
    saved_project: Path,
) -> None:
    commands.destroy(saved_project)
    marker = saved_project / "demo_assets" / commands.DESTROYED_MARKER
    assert marker.is_file(), "the state is committed with the snapshot"
    (saved_project / "services/storage").mkdir()
    (saved_project / "services/storage/mine.py").write_text("my own app\n")
    report = commands.diff(saved_project)
    assert report.state == "destroyed" and report.in_sync and report.assets == ()
    assert report.to_dict()["state"] == "destroyed"
    before = capture(saved_project)
    with pytest.raises(PlanError, match=r"destroyed.*`oppdemo restore` first"):
        commands.save(saved_project)
    assert capture(saved_project) == before
    assert commands.destroy(saved_project, force=True).record is None, "nothing left to destroy"
    assert capture(saved_project) == before
    commands.restore(saved_project)
    assert not marker.exists()
    report = commands.diff(saved_project)
    assert report.state == "demo" and report.in_sync
    commands.undo(saved_project)
    assert capture(saved_project) == before, "undo of the restore brings the state back"


def test_undo_of_destroy_clears_the_state(saved_project: Path) -> None:
    before = capture(saved_project)
    commands.destroy(saved_project)
    assert commands.undo(saved_project).discards == ()
    assert capture(saved_project) == before
    assert commands.diff(saved_project).state == "demo"


def test_restore_names_the_working_changes_it_would_discard(saved_project: Path) -> None:
    (saved_project / "demo_scripts/seed.py").unlink()
    assert commands.restore(saved_project, dry_run=True).discards == (), "only adds"
    (saved_project / "demo_scripts/new.py").write_text("mine\n")
    (saved_project / "services/storage/base.py").write_text("edited\n")
    cache = saved_project / "demo_scripts/__pycache__"
    cache.mkdir()
    (cache / "new.cpython-311.pyc").write_bytes(b"cache")
    outcome = commands.restore(saved_project, dry_run=True)
    assert outcome.discards == ("demo_scripts/new.py", "services/storage/base.py")
    assert outcome.to_dict()["discards"] == list(outcome.discards)


def test_restore_refuses_to_discard_what_was_not_agreed_to(saved_project: Path) -> None:
    (saved_project / "demo_scripts/new.py").write_text("mine\n")
    (saved_project / "services/storage/base.py").write_text("edited\n")
    before = capture(saved_project)
    with pytest.raises(PlanError, match=r"1 file\(s\) changed since you were asked.*base.py"):
        commands.restore(saved_project, allowed=["demo_scripts/new.py"])
    assert capture(saved_project) == before
    agreed = commands.restore(saved_project, dry_run=True).discards
    assert commands.restore(saved_project, allowed=agreed).record is not None
    assert commands.diff(saved_project).in_sync


def test_restore_of_a_destroyed_project_asks_only_for_the_users_files(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app",
        '[[tool.oppdemo.assets]]\npath = "services/storage"\nbase = "base/storage"\n\n'
        '[[tool.oppdemo.assets]]\npath = "demo_scripts"\nsaved = "scripts"\n',
    )
    write = {"base/storage/__init__.py": "# minimal\n", "base/storage/extra.py": "x = 1\n"}
    for name, text in write.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    commands.save(project)
    commands.destroy(project)
    assert commands.restore(project, dry_run=True).discards == (), "all as destroy left it"
    (project / "services/storage/extra.py").write_text("x = 2  # my change\n")
    (project / "demo_scripts").mkdir()
    (project / "demo_scripts/app.py").write_text("my app\n")
    assert commands.restore(project, dry_run=True).discards == (
        "demo_scripts/app.py",
        "services/storage/extra.py",
    )


def test_undo_of_an_older_command_names_the_newer_changes(saved_project: Path) -> None:
    first = commands.restore(saved_project)  # nothing to do: no backup
    assert first.record is None
    (saved_project / "demo_scripts/seed.py").write_text("print('v2')\n")
    older = commands.save(saved_project)
    assert older.record is not None
    assert commands.undo(saved_project, dry_run=True).discards == (), "nothing changed since"
    (saved_project / "demo_scripts/seed.py").write_text("print('v3, later')\n")
    later = commands.save(saved_project).record
    assert later is not None
    # The later save rewrote the snapshot's copy after the older save finished.
    finished = (saved_project / "backups" / older.record.id / "complete").stat().st_mtime
    saved_copy = saved_project / "demo_assets/scripts/seed.py"
    os.utime(saved_copy, (finished + 5, finished + 5))
    outcome = commands.undo(saved_project, older.record.id, dry_run=True)
    assert outcome.discards == ("demo_assets/scripts/seed.py",)
    before = capture(saved_project)
    with pytest.raises(PlanError, match="changed since you were asked"):
        commands.undo(saved_project, older.record.id, allowed=())
    assert capture(saved_project) == before
    commands.undo(saved_project, older.record.id, allowed=outcome.discards)
    assert saved_copy.read_text() == "print('seeding')\n"


def test_commands_before_init_name_init(tmp_path: Path) -> None:
    from oppdemo.errors import ManifestError

    from .projects import make_fastopp_current

    project = make_fastopp_current(tmp_path / "fastopp")
    before = capture(project)
    for command in (commands.diff, commands.save, commands.restore, commands.destroy):
        with pytest.raises(ManifestError) as raised:
            command(project)
        message = str(raised.value)
        assert "no [tool.oppdemo] table" in message and "run `oppdemo init`" in message
        assert "remove it from" not in message
    assert capture(project) == before


def test_a_project_without_demo_machinery_has_nothing_to_compare(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "app"\n')
    report = commands.diff(project)
    assert report.state == "none" and report.in_sync and report.assets == ()
