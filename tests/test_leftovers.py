"""What a killed run leaves behind: found by `storage check`, removed by the next run.

Each kill lands at a known point: the command stops at a test-only pause, the test sees the
leftover it is about to leave, and kills it there (SIGKILL: no handler runs)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import make_bucket_public, s3_client
from .projects import posix_only, run_cli, start_paused

MIB = 1024 * 1024


def _named(folder: Path, start: str) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.startswith(start)]


def _uploads(project: Path, name: str, mib: int) -> Path:
    """The project's upload folder, holding one file of `mib` MiB of random bytes."""
    folder = project / "static/uploads"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(os.urandom(mib * MIB))
    return folder


def _wait_for_an_upload(client: Any, bucket: str) -> None:
    """Wait until the paused command's multipart upload has begun (a worker thread starts it)."""
    deadline = time.monotonic() + 30
    while not client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
        assert time.monotonic() < deadline, "the multipart upload began"
        time.sleep(0.02)


@posix_only("SIGKILL")
def test_a_killed_put_leaves_an_upload_that_check_reports_and_the_next_put_aborts(
    storage_project: Path, s3_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**s3_env, "S3_MULTIPART_THRESHOLD_MB": "5"}
    photo = tmp_path / "big.bin"
    photo.write_bytes(os.urandom(24 * MIB))
    client, bucket = s3_client(env["S3_ENDPOINT_URL"]), env["S3_BUCKET"]
    make_bucket_public(env)
    # Five reads of 1 MiB choose the multipart path; the 7th is the second part's.
    paused = start_paused(
        storage_project, "put-read@7", "storage", "put", str(photo), "big.bin", env=env
    )
    _wait_for_an_upload(client, bucket)
    paused.finish(signal.SIGKILL)
    assert len(client.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1
    check = run_cli(storage_project, "storage", "check", env=env)
    assert check.returncode == 1
    assert "1 open multipart upload(s) (big.bin)" in check.stdout
    assert "oppdemo storage clean-leftovers" in check.stdout
    again = run_cli(storage_project, "storage", "put", str(photo), "big.bin", env=env)
    assert again.returncode == 0, again.stderr
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads"), "aborted"
    body = client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert body == photo.read_bytes()


@posix_only("SIGKILL")
def test_a_killed_migrate_to_s3_leaves_uploads_the_next_run_aborts(
    storage_project: Path, s3_env: dict[str, str]
) -> None:
    env = {**s3_env, "S3_MULTIPART_THRESHOLD_MB": "5"}
    source = _uploads(storage_project, "big.bin", 16)
    settings = storage_project / ".env.s3"
    settings.write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    client, bucket = s3_client(env["S3_ENDPOINT_URL"]), env["S3_BUCKET"]
    paused = start_paused(
        storage_project, "copy-read@7", "storage", "migrate", "--to", str(settings)
    )
    _wait_for_an_upload(client, bucket)
    paused.finish(signal.SIGKILL)
    assert len(client.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1
    rerun = run_cli(storage_project, "storage", "migrate", "--to", str(settings))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads"), "aborted"
    body = client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert body == (source / "big.bin").read_bytes()


@posix_only("SIGKILL")
@pytest.mark.parametrize("remover", ["the next migrate", "clean-leftovers"])
def test_a_killed_migrate_leaves_a_temporary_file_the_next_run_removes(
    storage_project: Path, remover: str
) -> None:
    source = _uploads(storage_project, "big.jpg", 3)
    # A user's own file with the temporary files' prefix is a file like any other.
    (source / ".storage-tmp-mine.jpg").write_bytes(b"mine")
    target = storage_project / "down"
    settings = storage_project / ".env.down"
    settings.write_text(f"UPLOAD_DIR={target}\n")
    paused = start_paused(
        storage_project, "copy-read@4", "storage", "migrate", "--to", str(settings),
        "--concurrency", "1",
    )  # fmt: skip
    paused.finish(signal.SIGKILL)
    process = paused.process
    assert len(_named(target, f".storage-tmp-{process.pid}-")) == 1, "the half-written copy"
    ls = run_cli(storage_project, "--", "storage", "--env-file", str(settings), "ls")
    assert ls.returncode == 0, ls.stderr
    assert ls.stdout.splitlines() == [".storage-tmp-mine.jpg"], "nothing half-written listed"
    check = run_cli(storage_project, "storage", "--env-file", str(settings), "check")
    assert check.returncode == 1 and "temporary file(s) of a killed write" in check.stdout
    if remover == "clean-leftovers":
        on_target = (storage_project, "storage", "--env-file", str(settings), "clean-leftovers")
        dry = run_cli(*on_target, "--dry-run")
        assert dry.returncode == 0 and f"would remove .storage-tmp-{process.pid}-" in dry.stdout
        assert len(_named(target, f".storage-tmp-{process.pid}-")) == 1, "a dry run changes nothing"
        cleaned = run_cli(*on_target)
        assert cleaned.returncode == 0 and "Removed 1 leftover(s)." in cleaned.stdout
        assert not _named(target, f".storage-tmp-{process.pid}-")
    rerun = run_cli(storage_project, "storage", "migrate", "--to", str(settings))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    files = sorted(path.name for path in target.iterdir() if path.is_file())
    assert files == [".storage-tmp-mine.jpg", "big.jpg"]
    assert (target / "big.jpg").read_bytes() == (source / "big.jpg").read_bytes()
    check = run_cli(storage_project, "storage", "--env-file", str(settings), "check")
    assert check.returncode == 0, check.stdout


@posix_only("SIGKILL")
def test_a_killed_get_leaves_a_temporary_file_the_next_get_removes(
    storage_project: Path, tmp_path: Path
) -> None:
    uploads = _uploads(storage_project, "big.jpg", 3)
    dest = tmp_path / "got.jpg"
    paused = start_paused(storage_project, "get-write@2", "storage", "get", "big.jpg", str(dest))
    paused.finish(signal.SIGKILL)
    assert len(_named(tmp_path, ".got.jpg.oppdemo-")) == 1 and not dest.exists()
    again = run_cli(storage_project, "storage", "get", "big.jpg", str(dest))
    assert again.returncode == 0, again.stderr
    assert dest.read_bytes() == (uploads / "big.jpg").read_bytes()
    assert not _named(tmp_path, ".got.jpg.oppdemo-")


@posix_only("SIGKILL")
def test_a_killed_rm_leaves_a_half_copy_the_next_backup_removes(storage_project: Path) -> None:
    uploads = _uploads(storage_project, "big.jpg", 3)
    paused = start_paused(storage_project, "keep-write@2", "storage", "rm", "--yes", "big.jpg")
    paused.finish(signal.SIGKILL)
    backups = storage_project / "backups"
    assert len(_named(backups, ".keep-")) == 1 and (uploads / "big.jpg").exists()
    again = run_cli(storage_project, "storage", "rm", "--yes", "big.jpg")
    assert again.returncode == 0, again.stderr
    assert not _named(backups, ".keep-") and not (uploads / "big.jpg").exists()
