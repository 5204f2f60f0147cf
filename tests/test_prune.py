"""`storage prune-incoming`: one deletion at a time, stopped between keys by a signal."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .conftest import s3_client
from .projects import posix_only, run_cli, start_paused


def _incoming(project: Path, count: int) -> Path:
    folder = project / "static/uploads/incoming"
    folder.mkdir(parents=True)
    two_days_ago = time.time() - 48 * 3600
    for index in range(count):
        path = folder / f"u{index:03d}.jpg"
        path.write_bytes(b"x" * (index + 1))
        os.utime(path, (two_days_ago, two_days_ago))
    return folder


@posix_only("SIGINT and SIGTERM sent to another process")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_prune_between_keys_and_says_how_far_it_got(
    storage_project: Path, signum: int, code: int
) -> None:
    folder = _incoming(storage_project, 100)
    paused = start_paused(
        storage_project, "remove@25", "storage", "prune-incoming", "--older-than", "24", "--yes"
    )
    # Paused before the 25th key: each of the first 24 is gone and was printed as it went.
    lines = paused.stdout.read_text().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["deleted", f"incoming/u{index:03d}.jpg"] for index in range(24)
    ]
    assert len(list(folder.iterdir())) == 76
    ended = paused.finish(signum)
    stderr = ended.stderr
    assert ended.returncode == code, stderr
    assert "after 24 of 100" in stderr and "Traceback" not in stderr
    assert "before anything was changed" not in stderr
    assert len(list(folder.iterdir())) == 76, "nothing deleted after the signal"
    kept = next((storage_project / "backups/storage").iterdir())
    assert len(list((kept / "incoming").iterdir())) == 24, "each deleted key has its copy"


def test_a_folder_marker_is_skipped_not_a_failure(
    storage_project: Path, s3_env: dict[str, str]
) -> None:
    client = s3_client(s3_env["S3_ENDPOINT_URL"])
    bucket = s3_env["S3_BUCKET"]
    client.put_object(Bucket=bucket, Key="incoming/", Body=b"")  # "Create folder"
    client.put_object(Bucket=bucket, Key="incoming/abandoned.jpg", Body=b"abandoned")
    time.sleep(1.1)  # S3 times have whole seconds: both are then older than 0 hours
    arguments = ("storage", "prune-incoming", "--older-than", "0")
    dry = run_cli(storage_project, *arguments, "--dry-run", env=s3_env)
    assert dry.returncode == 0, dry.stderr
    assert "would delete incoming/abandoned.jpg" in dry.stdout
    assert "skip incoming/  (a folder marker, kept)" in dry.stdout
    done = run_cli(storage_project, *arguments, "--yes", env=s3_env)
    assert done.returncode == 0, done.stderr
    assert "deleted incoming/abandoned.jpg" in done.stdout
    left = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert left == ["incoming/"]
