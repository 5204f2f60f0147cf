"""`storage migrate` and `storage rm` cannot lose data: overlapping storages, signals, failed
copies, links, foreign objects, folder markers, metadata, and server-side copies."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.storage import FilesystemStorage

from .conftest import s3_client
from .projects import PROJECT_ROOT, needs_symlinks, posix_only, run_cli, start_paused
from .test_direct_uploads import localstack_endpoint  # noqa: F401 - a fixture
from .test_storage_cli import _bucket_objects, _client, _local_files, _photos, _write_env


@pytest.fixture
def project(storage_project: Path) -> Path:
    return storage_project


def _second_bucket(s3_env: dict[str, str]) -> dict[str, str]:
    name = f"second-{uuid.uuid4().hex[:12]}"
    _client(s3_env).create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return {**s3_env, "S3_BUCKET": name}


def _migrate(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run_cli(project, "storage", "migrate", *options, timeout=120)


# 1. Overlapping source and target


def test_a_target_folder_holding_the_source_is_refused_and_nothing_changes(
    project: Path,
) -> None:
    files = _photos(project / "static/uploads", 3)
    source = _write_env(project / ".env.source", {"UPLOAD_DIR": "static/uploads"})
    target = _write_env(project / ".env.target", {"UPLOAD_DIR": "static"})
    for options in (("--delete", "--yes"), ("--dry-run",)):
        result = _migrate(project, "--from", str(source), "--to", str(target), *options)
        assert result.returncode == 2, result.stdout
        assert "inside the target" in result.stderr and "Traceback" not in result.stderr
    assert _local_files(project / "static/uploads") == files
    assert not (project / "backups").exists()


def test_a_source_folder_holding_the_target_is_refused(project: Path) -> None:
    _photos(project / "static/uploads", 2)
    source = _write_env(project / ".env.source", {"UPLOAD_DIR": "static"})
    target = _write_env(project / ".env.target", {"UPLOAD_DIR": "static/uploads"})
    result = _migrate(project, "--from", str(source), "--to", str(target))
    assert result.returncode == 2 and "inside the source" in result.stderr
    assert not (project / "static/uploads/uploads").exists(), "never nests a copy in itself"


def test_one_bucket_spelled_two_ways_is_refused_before_anything_is_read(
    project: Path, s3_env: dict[str, str]
) -> None:
    client = _client(s3_env)
    for key in ("old/1.jpg", "old/2.jpg"):
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=key.encode())  # type: ignore[attr-defined]
    localhost = s3_env["S3_ENDPOINT_URL"].replace("127.0.0.1", "localhost")
    source = _write_env(project / ".env.old", {**s3_env, "S3_PREFIX": "old"})
    target = _write_env(project / ".env.all", {**s3_env, "S3_ENDPOINT_URL": localhost})
    result = _migrate(project, "--from", str(source), "--to", str(target), "--delete", "--yes")
    assert result.returncode == 2 and "inside the target" in result.stderr
    assert _bucket_objects(s3_env) == {"old/1.jpg": b"old/1.jpg", "old/2.jpg": b"old/2.jpg"}


def test_disjoint_prefixes_in_one_bucket_are_a_move(project: Path, s3_env: dict[str, str]) -> None:
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="photos/a.jpg", Body=b"a")  # type: ignore[attr-defined]
    source = _write_env(project / ".env.from", {**s3_env, "S3_PREFIX": "photos"})
    target = _write_env(project / ".env.to", {**s3_env, "S3_PREFIX": "photos-moved"})
    result = _migrate(project, "--from", str(source), "--to", str(target), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["copied"] == 1
    assert _bucket_objects(s3_env) == {"photos/a.jpg": b"a", "photos-moved/a.jpg": b"a"}


# 2. Deletes only after every copy; signals


@posix_only("SIGINT and SIGTERM sent to a child process")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_copies_runs_no_delete_and_a_rerun_finishes(
    project: Path, s3_env: dict[str, str], signum: int, code: int
) -> None:
    files = _photos(project / "static/uploads", 150, size=40_000)
    client = _client(s3_env)
    extras = {f"extra/{index:03d}.jpg": b"extra" for index in range(150)}
    for key, data in extras.items():
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=data)  # type: ignore[attr-defined]
    production = _write_env(project / ".env.production", s3_env)
    # Paused once 20 copies are done (one at a time: none is in flight then).
    paused = start_paused(
        project, "migration step done@20", "storage", "migrate", "--to", str(production),
        "--delete", "--yes", "--concurrency", "1",
    )  # fmt: skip
    ended = paused.finish(signum)
    stdout, stderr = ended.stdout, ended.stderr
    assert ended.returncode == code, stderr
    assert "Traceback" not in stderr and "Interrupted" in stderr
    assert "no deletion ran" in stderr
    assert "not run" in stdout and "Migrated:" in stdout, "the summary says what was not done"
    after = _bucket_objects(s3_env)
    copied = {key: data for key, data in after.items() if key.startswith("photos/")}
    assert len(copied) == 20, "stopped where it paused"
    assert all(files[key] == data for key, data in copied.items()), "every object is whole"
    assert {key for key in after if key.startswith("extra/")} == set(extras), "no delete ran"
    uploads = client.list_multipart_uploads(Bucket=s3_env["S3_BUCKET"])  # type: ignore[attr-defined]
    assert not uploads.get("Uploads"), "no multipart upload left behind"

    rerun = _migrate(project, "--to", str(production), "--delete", "--yes", "--json")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["copied"] == 150 - len(copied) and report["deleted"] == 150
    assert _bucket_objects(s3_env) == files


def test_a_failed_copy_stops_every_delete(project: Path, s3_env: dict[str, str]) -> None:
    client = _client(s3_env)
    long_name = "n" * 300 + ".jpg"
    for key in ("ok/a.jpg", f"ok/{long_name}"):
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=b"x")  # type: ignore[attr-defined]
    down = project / "down"
    (down / "old").mkdir(parents=True)
    (down / "old/keep.jpg").write_bytes(b"keep")
    source = _write_env(project / ".env.production", s3_env)
    target = _write_env(project / ".env.down", {"UPLOAD_DIR": str(down)})
    result = _migrate(project, "--from", str(source), "--to", str(target), "--delete", "--yes")
    assert result.returncode == 1
    assert "a copy failed" in result.stdout
    assert (down / "old/keep.jpg").read_bytes() == b"keep"


# 3. Links


@needs_symlinks
def test_rm_and_migrate_never_delete_through_a_link(project: Path) -> None:
    uploads = project / "static/uploads"
    (uploads / "sample_photos").mkdir(parents=True)
    (uploads / "sample_photos/seeded.jpg").write_bytes(b"seeded")
    (uploads / "uploads").mkdir()
    (uploads / "uploads/alias.jpg").symlink_to("../sample_photos/seeded.jpg")
    result = run_cli(project, "storage", "rm", "uploads/alias.jpg")
    assert result.returncode == 2 and "symbolic link" in result.stderr
    assert (uploads / "sample_photos/seeded.jpg").read_bytes() == b"seeded"
    assert (uploads / "uploads/alias.jpg").is_symlink()

    source = _write_env(project / ".env.other", {"UPLOAD_DIR": str(project / "other")})
    (project / "other/uploads").mkdir(parents=True)
    (project / "other/uploads/alias.jpg").write_bytes(b"new bytes")
    result = _migrate(project, "--from", str(source), "--to", str(project / ".env.default"))
    assert result.returncode != 0
    assert (uploads / "sample_photos/seeded.jpg").read_bytes() == b"seeded", "never written"


# 4-6. Foreign objects, folder markers, metadata


def _multipart_by_plain_boto3(env: dict[str, str], key: str, data: bytes) -> None:
    from boto3.s3.transfer import TransferConfig

    client: Any = _client(env)
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    client.upload_fileobj(io.BytesIO(data), env["S3_BUCKET"], key, Config=config)
    head = client.head_object(Bucket=env["S3_BUCKET"], Key=key)
    assert head["ETag"].strip('"').endswith("-2") and not head.get("Metadata")


@pytest.mark.parametrize("to", ["filesystem", "s3 streamed", "s3 server-side"])
def test_a_multipart_object_without_metadata_is_copied_once(
    project: Path, s3_env: dict[str, str], to: str
) -> None:
    data = os.urandom(6 * 1024 * 1024)
    _multipart_by_plain_boto3(s3_env, "videos/clip.mp4", data)
    source = _write_env(project / ".env.source", s3_env)
    if to == "filesystem":
        target_env = {"UPLOAD_DIR": str(project / "down")}
    else:
        target_env = {**_second_bucket(s3_env), "S3_MULTIPART_THRESHOLD_MB": "5"}
        if to == "s3 streamed":  # other keys: the server cannot copy between them
            target_env["S3_ACCESS_KEY"] = "another-access-key"
    target = _write_env(project / ".env.target", target_env)
    runs = []
    for _ in range(3):
        result = _migrate(project, "--from", str(source), "--to", str(target), "--json")
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout))
    assert [run["copied"] for run in runs] == [1, 0, 0]
    assert [run["unchanged"] for run in runs] == [0, 1, 1]
    assert not (project / "backups").exists(), "nothing replaced, nothing backed up"
    expected_method = "server-side copy" if to == "s3 server-side" else "streamed"
    assert runs[0]["method"] == expected_method
    if to == "filesystem":
        assert (project / "down/videos/clip.mp4").read_bytes() == data
    else:
        # moto keeps a multipart source's composite CRC on a copy, which a client that
        # validates checksums rejects: read the bytes with validation off (as the app does).
        from botocore.config import Config

        checks = Config(response_checksum_validation="when_required")
        client = s3_client(s3_env["S3_ENDPOINT_URL"], config=checks)
        body = client.get_object(Bucket=target_env["S3_BUCKET"], Key="videos/clip.mp4")["Body"]
        assert body.read() == data


def test_folder_markers_are_skipped_never_failed(project: Path, s3_env: dict[str, str]) -> None:
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="photos/", Body=b"")  # type: ignore[attr-defined]
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="photos/a.jpg", Body=b"a")  # type: ignore[attr-defined]
    source = _write_env(project / ".env.source", s3_env)
    target = _write_env(project / ".env.down", {"UPLOAD_DIR": str(project / "down")})
    for _ in range(2):
        result = _migrate(project, "--from", str(source), "--to", str(target))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "skipped  photos/" in result.stdout and "1 skipped" in result.stdout
    assert _local_files(project / "down") == {"photos/a.jpg": b"a"}


def test_a_key_ending_in_a_slash_that_holds_data_is_no_marker(
    project: Path, s3_env: dict[str, str]
) -> None:
    """The storage's key rules refuse such a key: it fails, loudly, and is never skipped."""
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="notes/", Body=b"IMPORTANT")  # type: ignore[attr-defined]
    source = _write_env(project / ".env.source", s3_env)
    target = _write_env(project / ".env.bucket", _second_bucket(s3_env))
    result = _migrate(project, "--from", str(source), "--to", str(target), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and (report["failed"], report["skipped"]) == (1, [])
    assert "'notes/'" in report["steps"][0]["error"]


def test_a_source_of_folder_markers_alone_is_empty_for_delete(
    project: Path, s3_env: dict[str, str]
) -> None:
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="uploads/", Body=b"")  # type: ignore[attr-defined]
    target_env = _second_bucket(s3_env)
    client.put_object(Bucket=target_env["S3_BUCKET"], Key="keep.jpg", Body=b"keep")  # type: ignore[attr-defined]
    source = _write_env(project / ".env.source", {**s3_env, "S3_PREFIX": "uploads"})
    target = _write_env(project / ".env.target", target_env)
    result = _migrate(project, "--from", str(source), "--to", str(target), "--delete", "--yes")
    assert result.returncode == 2 and "is empty" in result.stderr
    assert _bucket_objects(target_env) == {"keep.jpg": b"keep"}


@pytest.mark.parametrize("how", ["server-side", "streamed"])
def test_metadata_travels_from_bucket_to_bucket(
    project: Path, s3_env: dict[str, str], how: str
) -> None:
    client = _client(s3_env)
    client.put_object(  # type: ignore[attr-defined]
        Bucket=s3_env["S3_BUCKET"],
        Key="raw/photo-without-extension",
        Body=b"\x89PNG...",
        ContentType="image/png",
        CacheControl="public, max-age=31536000, immutable",
        ContentDisposition='inline; filename="sunset.png"',
        Metadata={"author": "ada", "taken": "2025-06-01"},
    )
    target_env = _second_bucket(s3_env)
    if how == "streamed":
        target_env["S3_ACCESS_KEY"] = "another-access-key"
    source = _write_env(project / ".env.source", s3_env)
    target = _write_env(project / ".env.target", target_env)
    result = _migrate(project, "--from", str(source), "--to", str(target), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["method"] == ("server-side copy" if how == "server-side" else "streamed")
    head = client.head_object(Bucket=target_env["S3_BUCKET"], Key="raw/photo-without-extension")  # type: ignore[attr-defined]
    assert head["ContentType"] == "image/png"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentDisposition"] == 'inline; filename="sunset.png"'
    assert head["Metadata"] == {"author": "ada", "taken": "2025-06-01"}


def test_a_server_side_migrate_reads_no_byte_here(project: Path, s3_env: dict[str, str]) -> None:
    client = _client(s3_env)
    for index in range(20):
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=f"p/{index}.jpg", Body=os.urandom(5000))  # type: ignore[attr-defined]
    target_env = _second_bucket(s3_env)
    source = _write_env(project / ".env.source", s3_env)
    target = _write_env(project / ".env.target", target_env)
    report = json.loads(
        _migrate(project, "--from", str(source), "--to", str(target), "--json").stdout
    )
    assert (report["copied"], report["bytes_read"], report["method"]) == (20, 0, "server-side copy")
    assert _bucket_objects(target_env) == _bucket_objects(s3_env)
    streamed_env = {**_second_bucket(s3_env), "S3_ACCESS_KEY": "another-access-key"}
    streamed = _write_env(project / ".env.streamed", streamed_env)
    report = json.loads(
        _migrate(project, "--from", str(source), "--to", str(streamed), "--json").stdout
    )
    assert report["method"] == "streamed" and report["bytes_read"] == 20 * 5000


# 7-8. Backups folder, credentials in the endpoint


def test_rm_and_migrate_keep_their_copies_in_the_manifests_backups_folder(
    project: Path, s3_env: dict[str, str]
) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\n\n[tool.oppdemo]\nbackups = "var/kept"\n'
    )
    production = _write_env(project / ".env", s3_env)
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="a.jpg", Body=b"old a")  # type: ignore[attr-defined]
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="b.jpg", Body=b"old b")  # type: ignore[attr-defined]
    assert run_cli(project, "storage", "rm", "a.jpg").returncode == 0
    (project / "static/uploads").mkdir(parents=True)
    (project / "static/uploads/b.jpg").write_bytes(b"new b")
    local = _write_env(project / ".env.local", {"UPLOAD_DIR": "static/uploads"})
    result = _migrate(project, "--from", str(local), "--to", str(production))
    assert result.returncode == 0, result.stderr
    assert not (project / "backups").exists()
    kept = sorted((project / "var/kept/storage").iterdir())
    assert len(kept) == 2
    assert (kept[0] / "a.jpg").read_bytes() == b"old a"
    assert (kept[1] / "b.jpg").read_bytes() == b"old b"


def test_a_backups_folder_inside_the_upload_folder_is_refused(
    project: Path, s3_env: dict[str, str]
) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\n\n[tool.oppdemo]\nbackups = "static/uploads/bk"\n'
    )
    files = _photos(project / "static/uploads", 2)
    before = _local_files(project / "static/uploads")
    removed = run_cli(project, "storage", "rm", next(iter(files)))
    assert removed.returncode == 2 and "overlaps the upload folder" in removed.stderr
    source = _write_env(project / ".env.source", s3_env)
    local = _write_env(project / ".env.local", {"UPLOAD_DIR": "static/uploads"})
    migrated = _migrate(project, "--from", str(source), "--to", str(local), "--delete")
    assert migrated.returncode == 2 and "[tool.oppdemo] backups" in migrated.stderr
    assert _local_files(project / "static/uploads") == before


def test_user_info_in_the_endpoint_is_never_shown(project: Path, s3_env: dict[str, str]) -> None:
    endpoint = s3_env["S3_ENDPOINT_URL"].replace("http://", "http://ada:hunter2@")
    _write_env(project / ".env", {**s3_env, "S3_ENDPOINT_URL": endpoint})
    put = project / "a.txt"
    put.write_text("a")
    for arguments in (("put", str(put), "a.txt"), ("url", "a.txt"), ("check",), ("ls", "-l")):
        result = run_cli(project, "storage", *arguments)
        assert "hunter2" not in result.stdout + result.stderr, arguments
        assert "ada:" not in result.stdout + result.stderr, arguments
    url = run_cli(project, "storage", "url", "a.txt").stdout.strip()
    assert url.startswith(s3_env["S3_ENDPOINT_URL"]), url
    # Presigned, the URL is signed for the host alone: still no user info, and it still works.
    _write_env(project / ".env", {**s3_env, "S3_ENDPOINT_URL": endpoint, "S3_PRESIGN": "true"})
    for arguments in (("url", "a.txt"), ("check",)):
        result = run_cli(project, "storage", *arguments)
        assert "hunter2" not in result.stdout + result.stderr, arguments
    signed = run_cli(project, "storage", "url", "a.txt").stdout.strip()
    assert "X-Amz-Signature=" in signed or "Signature=" in signed, signed
    with urllib.request.urlopen(signed, timeout=10) as response:
        assert response.read() == b"a"


# What the operators who attacked it found


def test_a_missing_source_folder_or_an_empty_source_never_empties_the_target(
    project: Path,
) -> None:
    files = _photos(project / "static/uploads", 3)
    missing = _write_env(project / ".env.typo", {"UPLOAD_DIR": "statc/uploads"})
    target = _write_env(project / ".env.target", {"UPLOAD_DIR": "static/uploads"})
    result = _migrate(project, "--from", str(missing), "--to", str(target), "--delete", "--yes")
    assert result.returncode == 2 and "does not exist" in result.stderr
    (project / "empty").mkdir()
    empty = _write_env(project / ".env.empty", {"UPLOAD_DIR": "empty"})
    result = _migrate(project, "--from", str(empty), "--to", str(target), "--delete", "--yes")
    assert result.returncode == 2 and "is empty" in result.stderr
    assert _local_files(project / "static/uploads") == files
    file_target = _write_env(project / ".env.file", {"UPLOAD_DIR": "pyproject.toml"})
    result = _migrate(project, "--from", str(target), "--to", str(file_target))
    assert result.returncode == 2 and "is a file" in result.stderr


def test_bad_prefixes_endpoints_and_backups_are_one_sentence(project: Path) -> None:
    for prefix in ("../", "/etc", "a\\\\b", ".."):
        result = run_cli(project, "storage", "ls", prefix)
        assert result.returncode == 2 and "Traceback" not in result.stderr, prefix
    bad = {"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "S3_BUCKET": "c"}
    _write_env(project / ".env", {**bad, "S3_ENDPOINT_URL": "127.0.0.1:9"})
    for command in (("ls",), ("check",)):
        result = run_cli(project, "storage", *command)
        said = result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "S3_ENDPOINT_URL" in said
        assert result.returncode != 0
    (project / ".env").unlink()
    (project / "static/uploads").mkdir(parents=True)
    (project / "static/uploads/k.txt").write_text("k")
    (project / "backups").write_text("not a folder")
    result = run_cli(project, "storage", "rm", "k.txt")
    assert result.returncode == 2 and "is a file" in result.stderr
    assert (project / "static/uploads/k.txt").exists()


def test_above_the_copy_object_limit_the_server_copies_part_by_part(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above 5 GiB CopyObject is refused by S3: UploadPartCopy, still without a byte here.
    The limit is lowered to 5 MiB (S3's smallest part) so that moto copies 11 MiB in 3 parts."""
    from services.storage import s3 as s3_module

    from .conftest import make_s3_storage

    part = 5 * 1024 * 1024
    monkeypatch.setattr(s3_module, "_COPY_LIMIT", part)
    data = os.urandom(2 * part + 1024 * 1024)
    client = _client(s3_env)
    client.put_object(  # type: ignore[attr-defined]
        Bucket=s3_env["S3_BUCKET"], Key="big/video.mp4", Body=data, ContentType="video/mp4",
        CacheControl="max-age=60", Metadata={"author": "ada"},
    )  # fmt: skip
    target_env = _second_bucket(s3_env)
    source = make_s3_storage(s3_env, multipart_threshold=part)
    target = make_s3_storage(target_env, multipart_threshold=part)
    assert target.can_copy_from(source)
    info = next(iter(source.iter_files("big/")))
    target.copy_from(source, "big/video.mp4", info.size, info.md5, info.etag)

    head = client.head_object(Bucket=target_env["S3_BUCKET"], Key="big/video.mp4")  # type: ignore[attr-defined]
    assert head["ETag"].strip('"').endswith("-3"), "copied in three parts"
    assert (head["ContentType"], head["CacheControl"]) == ("video/mp4", "max-age=60")
    assert head["Metadata"]["author"] == "ada"
    assert target.file_info("big/video.mp4").origin == info.etag
    copied = client.get_object(Bucket=target_env["S3_BUCKET"], Key="big/video.mp4")  # type: ignore[attr-defined]
    assert copied["Body"].read() == data
    # A single-part source that large: its MD5 goes along, as the parts' ETag is none.
    target.copy_from(source, "big/video.mp4", info.size, info.md5, None)
    assert target.file_info("big/video.mp4").md5 == hashlib.md5(data).hexdigest()


def test_put_over_an_object_keeps_a_copy_of_it_first(project: Path) -> None:
    uploads = project / "static/uploads"
    (uploads / "photos").mkdir(parents=True)
    (uploads / "photos/p1.jpg").write_bytes(b"photo 1")
    new = project / "new.jpg"
    new.write_bytes(b"new")
    result = run_cli(project, "storage", "put", str(new), "photos/p1.jpg")
    assert result.returncode == 0, result.stderr
    assert (uploads / "photos/p1.jpg").read_bytes() == b"new"
    kept = _local_files(project / "backups/storage")
    assert list(kept.values()) == [b"photo 1"] and "first copied" in result.stdout
    folder = run_cli(project, "storage", "put", str(project), "photos/p1.jpg")
    assert folder.returncode == 2 and "not a file" in folder.stderr
    assert (uploads / "photos/p1.jpg").read_bytes() == b"new"


def test_rm_of_a_key_that_is_also_a_prefix_keeps_both_copies(
    project: Path, s3_env: dict[str, str]
) -> None:
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="f", Body=b"object f")  # type: ignore[attr-defined]
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="f/g.jpg", Body=b"object f/g")  # type: ignore[attr-defined]
    _write_env(project / ".env", s3_env)
    result = run_cli(project, "storage", "rm", "--yes", "f", "f/g.jpg")
    assert result.returncode == 0, result.stderr
    assert _bucket_objects(s3_env) == {}
    # The copies (their headers are kept beside, in backups/storage-headers/).
    kept = _local_files(project / "backups/storage")
    assert sorted(kept.values()) == [b"object f", b"object f/g"]
    assert sorted(key.split("/", 1)[1] for key in kept) == ["f", "f/g.jpg"]


@needs_symlinks
def test_get_never_writes_through_a_link_and_fills_a_folder(project: Path, tmp_path: Path) -> None:
    uploads = project / "static/uploads"
    (uploads / "photos").mkdir(parents=True)
    (uploads / "photos/p1.jpg").write_bytes(b"photo 1")
    outside = tmp_path / "outside.txt"
    link = tmp_path / "link.jpg"
    link.symlink_to(outside)  # dangling
    refused = run_cli(project, "storage", "get", "photos/p1.jpg", str(link))
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert not outside.exists()
    into = tmp_path / "into"
    into.mkdir()
    fetched = run_cli(project, "storage", "get", "photos/p1.jpg", str(into))
    assert fetched.returncode == 0, fetched.stderr
    assert (into / "p1.jpg").read_bytes() == b"photo 1"


def test_prune_incoming_refuses_hours_that_are_no_number(project: Path) -> None:
    for hours in ("inf", "nan", "1e12"):
        result = run_cli(project, "storage", "prune-incoming", "--older-than", hours)
        assert result.returncode == 2, (hours, result.stderr)
        assert "Traceback" not in result.stderr and "number of hours" in result.stderr


@posix_only("a pipe closed by its reader")
def test_ls_into_a_pipe_closed_early_says_nothing(project: Path) -> None:
    _photos(project / "static/uploads", 6000, size=10)
    command = [
        sys.executable,
        str(PROJECT_ROOT / "oppdemo.py"),
        "-C",
        str(project),
        "storage",
        "ls",
    ]
    listing = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert listing.stdout is not None and listing.stderr is not None
    listing.stdout.readline()
    listing.stdout.close()  # as `| head -1` does
    errors = listing.stderr.read().decode()
    listing.wait(timeout=60)
    assert errors == "", errors


@needs_symlinks
def test_links_in_the_source_folder_are_named_as_skipped(
    project: Path, s3_env: dict[str, str]
) -> None:
    uploads = project / "static/uploads"
    (uploads / "photos").mkdir(parents=True)
    (uploads / "photos/p3.jpg").write_bytes(b"p3")
    (uploads / "alias.jpg").symlink_to("photos/p3.jpg")
    (uploads / "gallery").symlink_to("photos", target_is_directory=True)
    target = _write_env(project / ".env.production", s3_env)
    result = _migrate(project, "--to", str(target))
    assert result.returncode == 0, result.stderr
    assert "alias.jpg  a symbolic link, never followed" in result.stdout
    assert "gallery  a symbolic link" in result.stdout and "2 skipped" in result.stdout
    report = json.loads(_migrate(project, "--to", str(target), "--json").stdout)
    assert report["links"] == ["alias.jpg", "gallery"]
    assert _bucket_objects(s3_env) == {"photos/p3.jpg": b"p3"}


def test_a_settings_file_that_sets_no_storage_is_refused(project: Path) -> None:
    _photos(project / "static/uploads", 1)
    commented = project / ".env.production"
    commented.write_text("# STORAGE_TYPE=s3\n# S3_BUCKET=prod\nDEBUG=1\n")
    result = _migrate(project, "--to", str(commented))
    assert result.returncode == 2 and "sets no storage variable" in result.stderr
    # The project's own .env may hold other settings only: the default folder, as ever.
    (project / ".env").write_text("DATABASE_URL=sqlite:///db.sqlite3\n")
    listed = run_cli(project, "storage", "ls")
    assert listed.returncode == 0 and "photos/" in listed.stdout, listed.stderr


def test_a_settings_file_with_s3_variables_but_no_storage_type_is_refused(
    project: Path, s3_env: dict[str, str]
) -> None:
    files = _photos(project / "static/uploads", 2)
    untyped = {key: value for key, value in s3_env.items() if key != "STORAGE_TYPE"}
    target = _write_env(project / ".env.s3", untyped)
    for options in (("--to", str(target)), ("--from", str(target), "--to", str(target))):
        result = _migrate(project, *options, "--delete", "--yes")
        assert result.returncode == 2, result.stdout + result.stderr
        assert "STORAGE_TYPE" in result.stderr and ".env.s3" in result.stderr
        assert "Traceback" not in result.stderr
    assert _local_files(project / "static/uploads") == files
    assert _bucket_objects(s3_env) == {}


@posix_only("permission bits that make a folder unreadable, and setpriv to apply them to root")
def test_an_unreadable_folder_is_never_taken_for_an_empty_one(
    project: Path, s3_env: dict[str, str]
) -> None:
    import shutil

    from .test_cli import _without_permission_override

    wrapper = _without_permission_override()
    if wrapper and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permission bits cannot stop a read")
    _photos(project / "static/uploads", 2)
    private = project / "static/uploads/private"
    private.mkdir()
    (private / "p1.jpg").write_bytes(b"p1")
    client = _client(s3_env)
    for key in ("private/p1.jpg", "private/p2.jpg"):
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=b"kept")  # type: ignore[attr-defined]
    target = _write_env(project / ".env.s3", s3_env)
    private.chmod(0)
    try:
        result = run_cli(
            project, "storage", "migrate", "--to", str(target), "--delete", "--yes",
            wrapper=wrapper, timeout=120,
        )  # fmt: skip
        listed = run_cli(project, "storage", "ls", wrapper=wrapper)
    finally:
        private.chmod(0o755)
    assert result.returncode != 0, result.stdout
    assert "private/" in result.stderr and "Cannot list" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    # Nothing deleted, nothing copied: the run stopped before its first change.
    assert _bucket_objects(s3_env) == {"private/p1.jpg": b"kept", "private/p2.jpg": b"kept"}
    assert listed.returncode != 0 and "private/" in listed.stderr, listed.stdout


# Checksums of the bytes actually sent


class _RewrittenAfterFirstRead(io.BufferedReader):
    """An open file whose path another writer rewrites (same size, in place) right after
    the first read from it: the known point at which the race lands."""

    def __init__(self, path: Path, new_bytes: bytes) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._path, self._new = path, new_bytes

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        if self._new:
            with open(self._path, "r+b") as writer:
                writer.write(self._new)
            self._new = b""
        return chunk


class RewrittenOnce(FilesystemStorage):
    """A real folder whose file `victim` is rewritten once while a copy reads it."""

    victim = ""
    new_bytes = b""

    def _open(self, key: str) -> Any:
        stored = super()._open(key)
        if key == type(self).victim and type(self).new_bytes:
            stored.close()
            reader = _RewrittenAfterFirstRead(Path(self.base_dir, key), type(self).new_bytes)
            type(self).new_bytes = b""
            stored = type(stored)(reader, key, stored.size, stored.content_type)
        return stored


@pytest.fixture(params=["moto", "localstack"])
def any_s3(request: pytest.FixtureRequest, s3_env: dict[str, str]) -> dict[str, str]:
    """A bucket on moto, and one on LocalStack (which enforces more of S3's rules)."""
    if request.param == "moto":
        return s3_env
    endpoint = request.getfixturevalue("localstack_endpoint")
    env = {**s3_env, "S3_ENDPOINT_URL": endpoint, "S3_BUCKET": f"ls-{uuid.uuid4().hex[:10]}"}
    _client(env).create_bucket(Bucket=env["S3_BUCKET"])  # type: ignore[attr-defined]
    return env


@pytest.mark.parametrize("size", [100_000, 3 * 1024 * 1024], ids=["one-part", "multipart"])
def test_a_file_rewritten_during_its_copy_is_sent_again_and_its_md5_is_of_the_bytes_sent(
    tmp_path: Path, any_s3: dict[str, str], size: int
) -> None:
    from oppdemo.storage.checksums import LocalChecksums
    from oppdemo.storage.migration import plan_migration, run_migration
    from services.storage import get_storage

    folder, cache = tmp_path / "uploads", tmp_path / "md5.json"
    folder.mkdir()
    planned, rewritten = b"A" * size, b"B" * size
    (folder / "a.jpg").write_bytes(planned)
    (folder / "b.jpg").write_bytes(b"small")
    target = get_storage({**any_s3, "S3_MULTIPART_THRESHOLD_MB": "1"})
    source = RewrittenOnce(folder)
    RewrittenOnce.victim, RewrittenOnce.new_bytes = "a.jpg", rewritten
    remembered = LocalChecksums(os.path.realpath(folder), cache, 0)
    plan, _ = plan_migration(source, target, checksums=remembered)
    report = run_migration(plan, source, target, checksums=remembered)
    remembered.save()
    assert report.count("copied") == 2 and not report.failed
    stored = _bucket_objects(any_s3)
    assert stored["a.jpg"] == rewritten
    # The MD5 the object carries (its single-part ETag or its kept metadata) is of its bytes.
    assert target.file_md5("a.jpg") == hashlib.md5(rewritten).hexdigest()
    # Back to the planned bytes: a rerun must see that they differ from the object's.
    (folder / "a.jpg").write_bytes(planned)
    again = LocalChecksums(os.path.realpath(folder), cache, 0)
    rerun, _ = plan_migration(FilesystemStorage(folder), target, checksums=again)
    assert [step.key for step in rerun.steps] == ["a.jpg"] and rerun.unchanged == 1


def test_a_file_deleted_after_the_listing_is_skipped_and_the_run_goes_on(
    project: Path, s3_env: dict[str, str]
) -> None:
    from oppdemo.storage.migration import plan_migration, run_migration
    from services.storage import get_storage

    folder = project / "static/uploads"
    files = _photos(folder, 3)
    source, target = FilesystemStorage(folder), get_storage(s3_env)
    plan, _ = plan_migration(source, target)
    gone = sorted(files)[1]
    (folder / gone).unlink()
    report = run_migration(plan, source, target)
    assert [r.step.key for r in report.results if r.outcome == "skipped"] == [gone]
    assert report.count("copied") == 2 and not report.failed
    assert report.to_dict()["vanished"] == [gone]
    assert set(_bucket_objects(s3_env)) == set(files) - {gone}
