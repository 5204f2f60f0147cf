"""Remembered MD5s of a local upload folder: trusted only while a file is unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from oppdemo.storage import checksums
from oppdemo.storage.checksums import LocalChecksums
from oppdemo.storage.migration import plan_migration
from services.storage import FilesystemStorage, MemoryStorage


class CountingStorage(FilesystemStorage):
    """A filesystem storage that counts the files it reads to hash."""

    hashed = 0

    def _md5(self, key: str) -> str | None:
        type(self).hashed += 1
        return super()._md5(key)


def _remembered(folder: Path, cache: Path, settled_ns: int = 0) -> LocalChecksums:
    return LocalChecksums(os.path.realpath(folder), cache, settled_ns)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _plan_twice_target(folder: Path, target: MemoryStorage, cache: Path) -> tuple[int, int]:
    """Plan folder -> target with remembered checksums: (files hashed, files unchanged)."""
    CountingStorage.hashed = 0
    source = CountingStorage(folder)
    remembered = _remembered(folder, cache)
    plan, _ = plan_migration(source, target, checksums=remembered)
    remembered.save()
    return CountingStorage.hashed, plan.unchanged


def test_a_rerun_hashes_no_unchanged_file_and_sees_a_changed_one(tmp_path: Path) -> None:
    folder, cache = tmp_path / "uploads", tmp_path / "cache" / "md5.json"
    folder.mkdir()
    target = MemoryStorage()
    for index in range(5):
        data = f"photo {index}".encode()
        (folder / f"{index}.jpg").write_bytes(data)
        target.save_file(data, f"{index}.jpg")
    assert _plan_twice_target(folder, target, cache) == (5, 5)
    assert _plan_twice_target(folder, target, cache) == (0, 5)
    # Same size, same modification time put back: the change time still tells.
    changed = folder / "3.jpg"
    before = changed.stat()
    time.sleep(0.05)
    changed.write_bytes(b"photo X")
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    if sys.platform == "win32":
        pytest.skip("Windows keeps the creation time in st_ctime: a write does not change it")
    hashed, unchanged = _plan_twice_target(folder, target, cache)
    assert (hashed, unchanged) == (1, 4)


def test_a_file_changed_just_before_hashing_is_not_remembered(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "fresh.jpg").write_bytes(b"new")
    cache = tmp_path / "md5.json"
    remembered = LocalChecksums(os.path.realpath(folder), cache)  # the real two seconds
    calls: list[str] = []

    def compute() -> str:
        calls.append("hashed")
        return _md5(b"new")

    assert remembered.md5("fresh.jpg", compute) == _md5(b"new")
    remembered.save()
    again = LocalChecksums(os.path.realpath(folder), cache)
    assert again.md5("fresh.jpg", compute) == _md5(b"new")
    assert calls == ["hashed", "hashed"]


def test_a_damaged_or_foreign_cache_is_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"a")
    cache = tmp_path / "md5.json"
    remembered = _remembered(folder, cache)
    remembered.md5("a.jpg", lambda: _md5(b"a"))
    remembered.save()
    saved = json.loads(cache.read_text())
    assert saved["files"]["a.jpg"][-1] == _md5(b"a")
    # A cache written for another folder, a damaged one, a wrong MD5 with a stale identity.
    for text in (
        json.dumps({**saved, "folder": str(tmp_path)}),
        "{not json",
        json.dumps({**saved, "files": {"a.jpg": [1, 2]}}),
    ):
        cache.write_text(text)
        assert _remembered(folder, cache).md5("a.jpg", lambda: "computed") == "computed"


def test_a_cache_of_any_wrong_shape_is_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"a")
    real = os.path.realpath(folder)
    cache = tmp_path / "md5.json"
    for data in (
        {"version": 1, "folder": real, "files": []},
        {"version": 1, "folder": real, "files": "a.jpg"},
        {"version": 1, "folder": real, "files": {"a.jpg": "abc"}},
        {"version": 1, "folder": real, "files": {"a.jpg": [1, 2, 3, 4, 5, None]}},
        {"version": 1, "folder": real, "files": {"a.jpg": ["1", 2, 3, 4, 5, "x"]}},
        [],
        "text",
        None,
        {"version": [1]},
    ):
        cache.write_text(json.dumps(data))
        remembered = _remembered(folder, cache)
        assert remembered.md5("a.jpg", lambda: "computed") == "computed"
        remembered.save()  # and a damaged cache is replaced by a good one
        assert json.loads(cache.read_text())["files"]["a.jpg"][-1] == "computed"


def test_an_unwritable_cache_folder_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"a")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    remembered = _remembered(folder, blocker / "md5" / "x.json")
    assert remembered.md5("a.jpg", lambda: _md5(b"a")) == _md5(b"a")
    remembered.save()  # no error: the cache is an optimisation only
    assert blocker.read_text().startswith("a file")


def test_only_a_local_folder_is_remembered_in_oppdemos_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPPDEMO_CACHE_DIR", str(tmp_path / "caches"))
    assert checksums.for_storage(MemoryStorage()) is None
    remembered = checksums.for_storage(FilesystemStorage(tmp_path / "uploads"))
    assert remembered is not None
    assert remembered.cache_file.parent == tmp_path / "caches" / "md5"
    other = checksums.for_storage(FilesystemStorage(tmp_path / "other"))
    assert other is not None and other.cache_file != remembered.cache_file


def test_a_first_copy_remembers_what_it_copied(tmp_path: Path) -> None:
    from oppdemo.storage.migration import run_migration

    folder, cache = tmp_path / "uploads", tmp_path / "md5.json"
    folder.mkdir()
    for index in range(4):
        (folder / f"{index}.jpg").write_bytes(f"photo {index}".encode())
    target = MemoryStorage()
    source = CountingStorage(folder)
    remembered = _remembered(folder, cache)
    plan, _ = plan_migration(source, target, checksums=remembered)
    report = run_migration(plan, source, target, checksums=remembered)
    remembered.save()
    assert report.count("copied") == 4
    assert _plan_twice_target(folder, target, cache) == (0, 4)
