"""`storage restore-backup`: what rm, put and migrate --delete kept goes back whole, headers
and all (on a real S3 server, through boto3)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import s3_client
from .projects import run_cli

HEADERS = {
    "a.jpg": {
        "ContentType": "image/jpeg",
        "CacheControl": "public, max-age=60",
        "ContentDisposition": 'attachment; filename="holiday.jpg"',
        "Metadata": {"owner": "ann", "album": "summer"},
    },
    # A type no name would give it back.
    "deep/b.bin": {"ContentType": "image/png", "Metadata": {"md5chksum": "kept"}},
}


@pytest.fixture
def client(s3_env: dict[str, str]) -> Any:
    return s3_client(s3_env["S3_ENDPOINT_URL"])


def _store(client: Any, bucket: str) -> None:
    for key, headers in HEADERS.items():
        client.put_object(Bucket=bucket, Key=key, Body=f"bytes of {key}".encode(), **headers)


def _state(client: Any, bucket: str, key: str) -> dict[str, Any]:
    head = client.head_object(Bucket=bucket, Key=key)
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    names = ("ContentType", "CacheControl", "ContentDisposition", "Metadata", "ContentLength")
    return {"body": body, **{name: head.get(name) for name in names}}


def _restore_command(message: str) -> list[str]:
    """The folder(s) the message tells to give `restore-backup`."""
    found = re.search(r"`oppdemo storage restore-backup ([^`]+)`", message)
    assert found, message
    return found.group(1).split()


def _restore(project: Path, env: dict[str, str], message: str) -> None:
    restored = run_cli(project, "storage", "restore-backup", *_restore_command(message), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "Traceback" not in restored.stderr


def test_rm_then_restore_backup_gives_back_bytes_and_headers(
    storage_project: Path, s3_env: dict[str, str], client: Any
) -> None:
    bucket = s3_env["S3_BUCKET"]
    _store(client, bucket)
    before = {key: _state(client, bucket, key) for key in HEADERS}
    removed = run_cli(storage_project, "storage", "rm", "--yes", *HEADERS, env=s3_env)
    assert removed.returncode == 0, removed.stderr
    assert "put" not in removed.stdout.replace("puts", ""), "put would lose the headers"
    assert not client.list_objects_v2(Bucket=bucket).get("Contents")
    _restore(storage_project, s3_env, removed.stdout)
    assert {key: _state(client, bucket, key) for key in HEADERS} == before


def test_put_over_an_object_then_restore_backup(
    storage_project: Path, s3_env: dict[str, str], client: Any, tmp_path: Path
) -> None:
    bucket = s3_env["S3_BUCKET"]
    _store(client, bucket)
    before = _state(client, bucket, "a.jpg")
    new = tmp_path / "new.jpg"
    new.write_bytes(b"another photo")
    put = run_cli(storage_project, "storage", "put", str(new), "a.jpg", env=s3_env)
    assert put.returncode == 0, put.stderr
    assert _state(client, bucket, "a.jpg")["body"] == b"another photo"
    _restore(storage_project, s3_env, put.stdout)
    assert _state(client, bucket, "a.jpg") == before


def test_migrate_delete_then_restore_backup(
    storage_project: Path, s3_env: dict[str, str], client: Any
) -> None:
    bucket = s3_env["S3_BUCKET"]
    _store(client, bucket)
    before = {key: _state(client, bucket, key) for key in HEADERS}
    source = storage_project / "static/uploads"
    source.mkdir(parents=True)
    (source / "kept.jpg").write_bytes(b"kept")
    target = storage_project / ".env.s3"
    target.write_text("".join(f"{name}={value}\n" for name, value in s3_env.items()))
    migrated = run_cli(
        storage_project, "storage", "migrate", "--to", str(target), "--delete", "--yes"
    )
    assert migrated.returncode == 0, migrated.stderr
    assert [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "kept.jpg"
    ]
    _restore(storage_project, s3_env, migrated.stdout)
    assert {key: _state(client, bucket, key) for key in HEADERS} == before


def test_restore_backup_refuses_a_folder_that_is_not_one(
    storage_project: Path, s3_env: dict[str, str]
) -> None:
    result = run_cli(storage_project, "storage", "restore-backup", "no/such/folder", env=s3_env)
    assert result.returncode == 2
    assert "is not a folder" in result.stderr and "Traceback" not in result.stderr
    headers = storage_project / "backups/storage-headers/20250101-120000-000000"
    headers.mkdir(parents=True)
    wrong = run_cli(storage_project, "storage", "restore-backup", str(headers), env=s3_env)
    assert wrong.returncode == 2 and "holds the headers of a backup" in wrong.stderr


def test_a_key_that_is_also_a_prefix_comes_back_from_both_folders(
    storage_project: Path, s3_env: dict[str, str], client: Any
) -> None:
    bucket = s3_env["S3_BUCKET"]
    client.put_object(Bucket=bucket, Key="f", Body=b"object f", ContentType="text/plain")
    client.put_object(Bucket=bucket, Key="f/g.jpg", Body=b"object f/g", CacheControl="no-store")
    before = {key: _state(client, bucket, key) for key in ("f", "f/g.jpg")}
    removed = run_cli(storage_project, "storage", "rm", "--yes", "f", "f/g.jpg", env=s3_env)
    assert removed.returncode == 0, removed.stderr
    assert len(_restore_command(removed.stdout)) == 2, "two folders: f cannot hold f/g.jpg"
    _restore(storage_project, s3_env, removed.stdout)
    assert {key: _state(client, bucket, key) for key in ("f", "f/g.jpg")} == before
