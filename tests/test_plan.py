"""Plans never touch what is ignored: the user's files and the folders that hold them."""

from __future__ import annotations

from pathlib import Path

import pytest

from oppdemo.assets.ignore import ignore_rules
from oppdemo.assets.plan import Operation, mirror, purge_ignored, removal, spare
from oppdemo.assets.scan import scan_tree
from oppdemo.errors import PlanError

from .projects import write_tree


def _steps(operations: list[Operation]) -> set[tuple[str, str]]:
    return {(operation.verb, operation.path) for operation in operations}


def test_mirror_keeps_ignored_files_and_the_folders_that_hold_them(tmp_path: Path) -> None:
    write_tree(tmp_path / "saved", {"keep.py": "k"})
    write_tree(
        tmp_path / "work",
        {
            "keep.py": "k",
            "routes/new.py": "n",
            "routes/.env": "SECRET=1",
            "cache/__pycache__/a.pyc": "c",
            "gone/old.py": "o",
        },
    )
    rules = ignore_rules()
    source, target = scan_tree(tmp_path / "saved", rules), scan_tree(tmp_path / "work", rules)
    steps = _steps(mirror(source, "saved", target, "work", set()))
    assert steps == {
        ("remove", "work/routes/new.py"),
        ("remove", "work/gone/old.py"),
        ("remove folder", "work/gone"),
    }


def test_a_file_cannot_replace_a_folder_of_ignored_files(tmp_path: Path) -> None:
    write_tree(tmp_path / "saved", {"routes": "a file now"})
    write_tree(tmp_path / "work", {"routes/.env": "SECRET=1"})
    rules = ignore_rules()
    source, target = scan_tree(tmp_path / "saved", rules), scan_tree(tmp_path / "work", rules)
    with pytest.raises(PlanError, match=r"work/routes holds files that are ignored"):
        mirror(source, "saved", target, "work", set())


def test_removal_spares_kept_entries_ignored_files_and_their_folders(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "dependencies",
        {
            "auth.py": "a",
            "config.py": "c",
            "sub/x.py": "x",
            "sub/deeper/keep.py": "k",
            "cached/__pycache__/a.pyc": "p",
        },
    )
    tree = scan_tree(tmp_path / "dependencies", ignore_rules())
    steps = _steps(removal(tree, "dependencies", ("auth.py", "sub/deeper")))
    assert steps == {
        ("remove", "dependencies/config.py"),
        ("remove", "dependencies/sub/x.py"),
    }


def test_spare_drops_the_steps_on_kept_entries(tmp_path: Path) -> None:
    write_tree(tmp_path / "base", {"b.py": "b"})
    write_tree(tmp_path / "deps", {"auth.py": "a", "db.py": "d"})
    rules = ignore_rules()
    operations = mirror(
        scan_tree(tmp_path / "base", rules),
        "base",
        scan_tree(tmp_path / "deps", rules),
        "deps",
        set(),
    )
    assert _steps(spare(operations, "deps", ("auth.py",))) == {
        ("remove", "deps/db.py"),
        ("copy", "deps/b.py"),
    }


def test_purge_takes_every_ignored_entry_out_of_a_saved_copy(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "saved",
        {"a.py": "a", "routes/.env": "SECRET=1", "lib/__pycache__/x.pyc": "c", "lib/b.py": "b"},
    )
    saved = scan_tree(tmp_path / "saved", ignore_rules())
    steps = _steps(purge_ignored(saved, "saved"))
    assert steps == {
        ("remove", "saved/routes/.env"),
        ("remove", "saved/lib/__pycache__/x.pyc"),
        ("remove folder", "saved/lib/__pycache__"),
    }
    assert not saved.ignored, "forgotten, so that a mirror may remove the folders that held them"
