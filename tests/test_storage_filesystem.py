"""Filesystem backend: symlink escapes, atomic writes and listing details."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from services.storage import FilesystemStorage, UnsafeKeyError

from .projects import needs_symlinks


@needs_symlinks
def test_a_symlink_inside_the_base_cannot_lead_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not touch")
    storage = FilesystemStorage(tmp_path / "uploads")
    storage.ensure_directories("photos")
    os.symlink(outside, tmp_path / "uploads" / "escape")
    os.symlink(outside / "secret.txt", tmp_path / "uploads" / "photos" / "link.txt")
    for key in ("escape/secret.txt", "escape/new.txt", "photos/link.txt"):
        for method, arguments in (
            (storage.save_file, (b"evil", key)),
            (storage.get_file, (key,)),
            (storage.delete_file, (key,)),
            (storage.file_exists, (key,)),
            (storage.get_file_url, (key,)),
            (storage.ensure_directories, (key,)),
        ):
            with pytest.raises(UnsafeKeyError, match="resolves outside"):
                method(*arguments)
    assert (outside / "secret.txt").read_text() == "do not touch"
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert storage.list_files() == []


def test_readers_never_see_half_a_file(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    versions = [bytes([index]) * 2_000_000 for index in range(4)]
    storage.save_file(versions[0], "big.bin")
    torn_reads: list[int] = []
    reads = 0
    stop = threading.Event()

    def read_repeatedly() -> None:
        nonlocal reads
        while not stop.is_set():
            data = storage.get_file("big.bin")
            reads += 1
            if data not in versions:
                torn_reads.append(len(data))

    def writer() -> None:
        for round_ in range(20):
            storage.save_file(versions[round_ % 4], "big.bin")

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    writer()
    stop.set()
    reader.join()
    assert reads > 0
    assert torn_reads == []
    contents = storage.get_file("big.bin")
    assert contents in versions
    assert storage.list_files() == ["big.bin"], "no temporary file is left or listed"


def test_files_are_written_whole_or_not_at_all(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    storage.save_file(b"original", "doc.txt")
    with pytest.raises(TypeError):
        storage.save_file(None, "doc.txt")  # type: ignore[arg-type]
    assert storage.get_file("doc.txt") == b"original"
    assert os.listdir(tmp_path / "uploads") == ["doc.txt"]


@needs_symlinks
def test_listing_skips_folders_and_symlinks(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    storage.save_file(b"a", "a/one.txt")
    storage.ensure_directories("a/empty")
    os.symlink(tmp_path / "uploads" / "a" / "one.txt", tmp_path / "uploads" / "alias.txt")
    assert storage.list_files() == ["a/one.txt"]


def test_upload_dir_is_created_on_demand(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "not" / "yet")
    assert storage.list_files() == []
    storage.save_file(b"x", "x.txt")
    assert (tmp_path / "not" / "yet" / "x.txt").read_bytes() == b"x"
    storage.ensure_directories("photos/2026", "avatars")
    assert (tmp_path / "not/yet/photos/2026").is_dir()
    assert (tmp_path / "not/yet/avatars").is_dir()


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("photos/con", "reserves for a device"),
        ("photos/AUX.jpg", "reserves for a device"),
        ("photos/lpt1", "reserves for a device"),
        ("photos/name.", "ending in a dot or a space"),
        ("photos/name ", "ending in a dot or a space"),
        ("photos/a:b.jpg", "does not allow"),
    ],
)
def test_windows_names_are_refused_on_windows(key: str, why: str) -> None:
    from services.storage.keys import check_local_key

    with pytest.raises(UnsafeKeyError, match=why):
        check_local_key(key, windows=True)
    check_local_key(key, windows=False)  # fine on Linux and macOS
    check_local_key("photos/console.jpg", windows=True)


def test_a_key_that_is_a_folder_or_runs_through_a_file_is_a_storage_error(tmp_path: Path) -> None:
    from services.storage import StorageConflictError

    storage = FilesystemStorage(tmp_path / "uploads")
    storage.save_file(b"x", "photos/deep/a.jpg")
    storage.save_file(b"y", "photos/b.jpg")
    with pytest.raises(StorageConflictError, match="'photos/deep': it is a folder") as folder:
        storage.save_file(b"z", "photos/deep")
    with pytest.raises(StorageConflictError, match="a part of it is a file") as through:
        storage.save_file(b"z", "photos/b.jpg/c.jpg")
    for error in (folder.value, through.value):
        assert "storage-tmp" not in str(error) and str(tmp_path) not in str(error).split(" in ")[0]
    assert storage.get_file("photos/b.jpg") == b"y"
    assert sorted(storage.list_files()) == ["photos/b.jpg", "photos/deep/a.jpg"]


def test_a_read_only_folder_is_a_storage_access_error(read_only_folder: Path) -> None:
    from services.storage import StorageAccessError

    storage = FilesystemStorage(read_only_folder)
    with pytest.raises(StorageAccessError, match="'photos/a.jpg'.*not writable"):
        storage.save_file(b"x", "photos/a.jpg")
    assert storage.list_files() == []


@needs_symlinks
def test_no_write_or_delete_goes_through_a_link_inside_the_base(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    storage.save_file(b"seeded", "sample_photos/seeded.jpg")
    storage.ensure_directories("uploads")
    base = tmp_path / "uploads"
    (base / "uploads/alias.jpg").symlink_to("../sample_photos/seeded.jpg")
    (base / "linked").symlink_to("sample_photos", target_is_directory=True)
    for key in ("uploads/alias.jpg", "linked/seeded.jpg", "linked/new.jpg"):
        with pytest.raises(UnsafeKeyError, match="symbolic link"):
            storage.delete_file(key)
        with pytest.raises(UnsafeKeyError, match="symbolic link"):
            storage.save_file(b"evil", key)
        with pytest.raises(UnsafeKeyError, match="symbolic link"):
            storage.save_stream(io.BytesIO(b"evil"), key)
    assert (base / "sample_photos/seeded.jpg").read_bytes() == b"seeded"
    assert sorted(os.listdir(base / "sample_photos")) == ["seeded.jpg"]
    assert (base / "uploads/alias.jpg").is_symlink()
    # Reading through a link that stays inside the base is still allowed.
    assert storage.get_file("uploads/alias.jpg") == b"seeded"
