"""A full disk changes nothing: tried on a real size-limited filesystem (a tmpfs mount)."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import mounted_tmpfs
from .projects import capture, make_project, run_cli

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="mounting a size-limited tmpfs needs Linux and root",
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs mounted for the test."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    with mounted_tmpfs(mount_point, "size=8m"):
        yield mount_point


def _fill(disk: Path, leave: int) -> None:
    """Take all free space but about `leave` bytes."""
    info = os.statvfs(disk)
    free = info.f_bavail * info.f_frsize
    with open(disk / "filler", "wb") as filler:
        try:
            filler.write(b"\0" * max(free - leave, 0))
        except OSError as error:
            assert error.errno == errno.ENOSPC


def _saved_project(disk: Path) -> Path:
    project = make_project(disk / "app")
    assert run_cli(project, "save").returncode == 0
    return project


def test_no_room_for_the_backup_record_changes_nothing(small_disk: Path) -> None:
    project = _saved_project(small_disk)
    for name in ("base.py", "__init__.py"):
        (project / "services/storage" / name).write_text(f"edited {name}\n" * 50)
    before = capture(project, exclude=())
    _fill(small_disk, leave=0)
    result = run_cli(project, "save")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "could not write its backup" in result.stderr and "No space left" in result.stderr
    assert "nothing was changed" in result.stderr
    assert capture(project, exclude=()) == before


def test_no_room_for_a_new_file_puts_back_what_was_overwritten(small_disk: Path) -> None:
    project = make_project(small_disk / "app")
    (project / "services/storage/logo.bin").write_bytes(os.urandom(1_000_000))
    assert run_cli(project, "save").returncode == 0
    # The save overwrites logo.bin (1 MB), then finds no room for zz_photo.bin (1.9 MB). Putting
    # the old logo.bin back by copying it would need another 1 MB, which is not there either.
    (project / "services/storage/logo.bin").write_bytes(os.urandom(1_000_000))
    (project / "services/storage/zz_photo.bin").write_bytes(os.urandom(1_900_000))
    before = capture(project, exclude=("backups",))
    _fill(small_disk, leave=1_300_000)
    result = run_cli(project, "save")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr
    assert "everything was put back as it was" in result.stderr
    assert capture(project, exclude=("backups",)) == before
    assert not list(project.rglob("*.oppdemo-tmp"))
    (small_disk / "filler").unlink()
    assert run_cli(project, "save").returncode == 0, "with room again, the same save works"
    assert run_cli(project, "diff").returncode == 0
