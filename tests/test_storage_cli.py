"""`oppdemo.py storage ...` through the CLI, against a real S3 server and real files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import SECRET_KEY, free_port, make_bucket_public, s3_client
from .projects import PROJECT_ROOT, posix_only, run_cli, start_paused
from .test_storage_contract import TRICKY_KEYS as CONTRACT_KEYS

# The contract's tricky keys, and deeper paths.
TRICKY_KEYS = [*CONTRACT_KEYS[1:], "photos/deep/er/and/deeper/still/a.jpg"]


def _caches(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


@pytest.fixture
def project(storage_project: Path) -> Path:
    return storage_project


def _write_env(path: Path, env: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return path


def _client(env: dict[str, str]) -> object:
    return s3_client(env["S3_ENDPOINT_URL"])


def _bucket_objects(env: dict[str, str]) -> dict[str, bytes]:
    client = _client(env)
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=env["S3_BUCKET"]):  # type: ignore[attr-defined]
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=env["S3_BUCKET"], Key=item["Key"])["Body"]  # type: ignore[attr-defined]
            found[item["Key"]] = body.read()
    return found


def _local_files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def _no_secret(result: subprocess.CompletedProcess[str]) -> None:
    assert SECRET_KEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_put_ls_get_url_rm_with_tricky_keys(
    project: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    extra: dict[str, str] = {}
    if backend == "s3":
        extra = request.getfixturevalue("s3_env")
        make_bucket_public(extra)
    source = tmp_path / "photo.jpg"
    for index, key in enumerate(TRICKY_KEYS):
        source.write_bytes(f"photo {index}".encode() * 100)
        put = run_cli(project, "storage", "put", str(source), key, env=extra)
        assert put.returncode == 0, put.stderr
        _no_secret(put)
    listed = run_cli(project, "storage", "ls", env=extra)
    assert listed.stdout.splitlines() == sorted(TRICKY_KEYS)
    long = run_cli(project, "storage", "ls", "photos/deep/", "--long", env=extra)
    assert long.stdout.split()[0] == str(len(b"photo 7" * 100))
    as_json = run_cli(project, "storage", "ls", "--json", env=extra).stdout
    rows = [json.loads(line) for line in as_json.splitlines()]
    assert [row["key"] for row in rows] == sorted(TRICKY_KEYS) and rows[0]["modified"]
    for index, key in enumerate(TRICKY_KEYS):
        expected = f"photo {index}".encode() * 100
        dest = tmp_path / f"got-{index}"
        got = run_cli(project, "storage", "get", key, str(dest), env=extra)
        assert got.returncode == 0, got.stderr
        assert dest.read_bytes() == expected
        url = run_cli(project, "storage", "url", key, env=extra).stdout.strip()
        if backend == "s3":
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.read() == expected
        else:
            assert url.startswith("/static/uploads/photos/")
    oppdemo = [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project)]
    to_stdout = subprocess.run(
        [*oppdemo, "storage", "get", TRICKY_KEYS[0], "-"],
        capture_output=True, env={**os.environ, **extra}, timeout=60,
    )  # fmt: skip
    assert to_stdout.stdout == b"photo 0" * 100
    again = run_cli(project, "storage", "get", TRICKY_KEYS[0], str(tmp_path / "got-0"), env=extra)
    assert again.returncode == 2 and "already exists" in again.stderr
    many = run_cli(project, "storage", "rm", *TRICKY_KEYS[:2], env=extra)
    assert many.returncode == 2 and "--yes" in many.stderr
    removed = run_cli(project, "storage", "rm", "--yes", *TRICKY_KEYS, env=extra)
    assert removed.returncode == 0, removed.stderr
    assert run_cli(project, "storage", "ls", env=extra).stdout == ""
    kept = next((project / "backups" / "storage").iterdir())
    assert (kept / TRICKY_KEYS[0]).read_bytes() == b"photo 0" * 100, "a copy was kept"
    missing = run_cli(project, "storage", "rm", TRICKY_KEYS[0], env=extra)
    assert missing.returncode == 1 and "not found" in missing.stdout


def test_ls_pages_through_more_than_a_thousand_objects(
    project: Path, s3_env: dict[str, str]
) -> None:
    client = _client(s3_env)
    keys = [f"many/{index:05d}.txt" for index in range(1_050)]
    for key in keys:
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=b"x")  # type: ignore[attr-defined]
    listed = run_cli(project, "storage", "ls", "many/", env=s3_env)
    assert listed.stdout.splitlines() == keys


def test_bad_settings_are_one_sentence_and_exit_2(project: Path) -> None:
    typo = run_cli(project, "storage", "ls", env={"STORAGE_TYPE": "s4"})
    assert typo.returncode == 2 and "STORAGE_TYPE='s4' is not a storage type" in typo.stderr
    missing = run_cli(project, "storage", "ls", env={"STORAGE_TYPE": "s3"})
    assert missing.returncode == 2 and "S3_ACCESS_KEY" in missing.stderr
    no_file = run_cli(project, "storage", "--env-file", "nowhere.env", "ls")
    assert no_file.returncode == 2 and "no settings file" in no_file.stderr.lower()
    for result in (typo, missing, no_file):
        assert "Traceback" not in result.stderr


# --- check -----------------------------------------------------------------------------------


def _check(project: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = run_cli(project, "storage", "check", *options, env=env, timeout=60)
    assert time.monotonic() - started < 30, "the doctor finishes within 30 s"
    _no_secret(result)
    return result


def _steps(result: subprocess.CompletedProcess[str]) -> dict[str, bool | None]:
    return {step["name"]: step["ok"] for step in json.loads(result.stdout)["steps"]}


def test_check_reports_a_private_bucket_and_the_fixes(
    project: Path, s3_env: dict[str, str]
) -> None:
    result = _check(project, s3_env)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert len(failed) == 1 and "URL serves the probe" in failed[0]
    assert "HTTP 403" in failed[0] and "S3_CDN_URL" in failed[0] and "S3_PRESIGN=true" in failed[0]
    assert '"Action": "s3:GetObject"' in failed[0], "the bucket policy is shown"
    for step in ("settings valid", "endpoint reachable", "credentials accepted", "bucket exists",
                 "probe written", "probe read back", "probe listed", "probe deleted"):  # fmt: skip
        assert any(line.startswith("✓") and step in line for line in result.stdout.splitlines())
    assert _bucket_objects(s3_env) == {}, "the probe was cleaned up"


@pytest.mark.parametrize("setup", ["public", "presigned", "cdn"])
def test_check_passes_where_the_url_serves(
    project: Path, s3_env: dict[str, str], setup: str
) -> None:
    env = dict(s3_env)
    if setup == "presigned":
        env["S3_PRESIGN"] = "true"
    else:
        make_bucket_public(env)
    if setup == "cdn":
        env["S3_CDN_URL"] = f"{env['S3_ENDPOINT_URL']}/{env['S3_BUCKET']}"
    result = _check(project, env, "--json")
    assert result.returncode == 0, result.stdout
    assert all(_steps(result).values())
    assert _bucket_objects(env) == {}


def test_check_a_closed_port_wrong_keys_and_a_missing_bucket(
    project: Path, s3_env: dict[str, str], strict_moto_endpoint: str
) -> None:
    closed = _check(
        project, {**s3_env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}, "--json"
    )
    assert closed.returncode == 1
    assert _steps(closed)["endpoint reachable"] is False
    assert _steps(closed)["probe written"] is None
    wrong = _check(project, {**s3_env, "S3_ENDPOINT_URL": strict_moto_endpoint}, "--json")
    assert wrong.returncode == 1
    assert _steps(wrong)["credentials accepted"] is False
    assert "S3_ACCESS_KEY" in wrong.stdout
    missing = _check(project, {**s3_env, "S3_BUCKET": "no-such-bucket"}, "--json")
    steps = _steps(missing)
    assert (steps["credentials accepted"], steps["bucket exists"]) == (True, False)
    assert "create it or correct S3_BUCKET" in missing.stdout


def test_check_of_a_folder_leaves_nothing_behind(project: Path) -> None:
    before = sorted(path.relative_to(project) for path in project.rglob("*"))
    result = _check(project, {"STORAGE_TYPE": "filesystem", "UPLOAD_DIR": "media/uploads"})
    assert result.returncode == 0, result.stdout + result.stderr
    after = sorted(path.relative_to(project) for path in project.rglob("*"))
    assert [path for path in after if "__pycache__" not in path.parts] == before, "no media/"
    uploads = project / "static/uploads"
    (uploads / "photos").mkdir(parents=True)
    (uploads / "photos/a.jpg").write_bytes(b"a")
    result = _check(project, {"STORAGE_TYPE": "filesystem"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(path.relative_to(uploads).as_posix() for path in uploads.rglob("*")) == [
        "photos",
        "photos/a.jpg",
    ]


def test_check_finishes_against_a_server_that_never_answers(
    project: Path, s3_env: dict[str, str]
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections are accepted by the kernel, and never answered
        port = silent.getsockname()[1]
        result = _check(
            project, {**s3_env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"}, "--json"
        )
    assert result.returncode == 1
    assert _steps(result)["endpoint reachable"] is True
    assert _steps(result)["credentials accepted"] is False


def test_check_the_filesystem_and_the_app_that_serves_it(
    project: Path, static_site: tuple[Path, str]
) -> None:
    site, origin = static_site
    env = {"UPLOAD_DIR": str(site / "static" / "uploads"), "UPLOAD_URL": "/static/uploads"}
    alone = _check(project, env, "--json")
    assert alone.returncode == 0
    assert _steps(alone)["URL serves the probe"] is None, "not run without --base-url"
    served = _check(project, env, "--json", "--base-url", origin)
    assert served.returncode == 0 and all(_steps(served).values())
    wrong = _check(project, {**env, "UPLOAD_URL": "/elsewhere"}, "--base-url", origin)
    assert wrong.returncode == 1 and "HTTP 404" in wrong.stdout
    assert not list((site / "static" / "uploads").rglob("*.txt")), "the probe was cleaned up"


# --- migrate ---------------------------------------------------------------------------------


def _photos(folder: Path, count: int, size: int = 20_000) -> dict[str, bytes]:
    files = {}
    for index in range(count):
        key = f"photos/{index:04d} shot.jpg"
        data = hashlib.sha256(str(index).encode()).digest() * (size // 32)
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[key] = data
    return files


@pytest.fixture
def envs(project: Path, s3_env: dict[str, str]) -> tuple[Path, Path]:
    uploads = project / "static" / "uploads"
    local = _write_env(project / ".env.local", {"UPLOAD_DIR": str(uploads)})
    bucket = _write_env(project / ".env.production", s3_env)
    return local, bucket


def test_migrate_filesystem_to_s3_and_back(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    _, production = envs
    files = _photos(project / "static" / "uploads", 30)
    dry = run_cli(project, "storage", "migrate", "--to", str(production), "--dry-run")
    assert dry.returncode == 0 and "Dry run: 30 to copy" in dry.stdout
    assert _bucket_objects(s3_env) == {}
    first = run_cli(project, "storage", "migrate", "--to", str(production), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["copied"] == 30
    assert _bucket_objects(s3_env) == files
    head = _client(s3_env).head_object(Bucket=s3_env["S3_BUCKET"], Key="photos/0000 shot.jpg")  # type: ignore[attr-defined]
    assert head["ContentType"] == "image/jpeg"
    second = json.loads(
        run_cli(project, "storage", "migrate", "--to", str(production), "--json").stdout
    )
    assert (second["copied"], second["unchanged"]) == (0, 30)

    down = project / "restored"
    target = _write_env(project / ".env.down", {"UPLOAD_DIR": str(down)})
    back = run_cli(project, "storage", "migrate", "--from", str(production), "--to", str(target))
    assert back.returncode == 0, back.stderr
    assert _local_files(down) == files


def test_migrate_compares_content_and_delete_needs_confirmation(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    _, production = envs
    files = _photos(project / "static" / "uploads", 5)
    assert run_cli(project, "storage", "migrate", "--to", str(production)).returncode == 0
    client = _client(s3_env)
    same_size = bytes(reversed(files["photos/0001 shot.jpg"]))
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="photos/0001 shot.jpg", Body=same_size)  # type: ignore[attr-defined]
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="extra/old.jpg", Body=b"old")  # type: ignore[attr-defined]
    plan = run_cli(project, "storage", "migrate", "--to", str(production), "--delete", "--dry-run")
    assert "copy    photos/0001 shot.jpg  (content differs" in plan.stdout
    assert "delete  extra/old.jpg  (not in the source" in plan.stdout
    refused = run_cli(project, "storage", "migrate", "--to", str(production), "--delete")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = run_cli(project, "storage", "migrate", "--to", str(production), "--delete", "--yes")
    assert done.returncode == 0, done.stderr
    assert _bucket_objects(s3_env) == files
    kept = next((project / "backups" / "storage").iterdir())
    assert (kept / "extra/old.jpg").read_bytes() == b"old"
    assert (kept / "photos/0001 shot.jpg").read_bytes() == same_size


def test_migrate_a_multipart_object_both_ways(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    production = _write_env(project / ".env.parts", {**s3_env, "S3_MULTIPART_THRESHOLD_MB": "5"})
    big = os.urandom(12 * 1024 * 1024)
    (project / "static/uploads/videos").mkdir(parents=True)
    (project / "static/uploads/videos/big.mp4").write_bytes(big)
    assert run_cli(project, "storage", "migrate", "--to", str(production)).returncode == 0
    head = _client(s3_env).head_object(Bucket=s3_env["S3_BUCKET"], Key="videos/big.mp4")  # type: ignore[attr-defined]
    # Sent in parts from a stream hashed on the way up, then its metadata rewritten in place
    # (server-side) to carry the MD5 of the bytes sent, as rclone's `md5chksum`.
    expected = base64.b64encode(hashlib.md5(big).digest()).decode()
    assert head["Metadata"].get("md5chksum") == expected
    assert head["ContentLength"] == len(big)
    again = json.loads(
        run_cli(project, "storage", "migrate", "--to", str(production), "--json").stdout
    )
    assert (again["copied"], again["unchanged"]) == (0, 1), "the MD5 kept in metadata matches"
    down = _write_env(project / ".env.down", {"UPLOAD_DIR": str(project / "down")})
    assert (
        run_cli(
            project, "storage", "migrate", "--from", str(production), "--to", str(down)
        ).returncode
        == 0
    )
    assert (project / "down/videos/big.mp4").read_bytes() == big


def test_a_key_the_target_cannot_hold_fails_alone(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    _, production = envs
    client = _client(s3_env)
    long_name = "n" * 300 + ".jpg"
    for key in ("ok/a.jpg", f"ok/{long_name}", "ok/b.jpg"):
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=key.encode())  # type: ignore[attr-defined]
    down = _write_env(project / ".env.down", {"UPLOAD_DIR": str(project / "down")})
    result = run_cli(project, "storage", "migrate", "--from", str(production), "--to", str(down))
    assert result.returncode == 1
    assert "failed" in result.stdout and "at most 255" in result.stdout
    assert _local_files(project / "down") == {"ok/a.jpg": b"ok/a.jpg", "ok/b.jpg": b"ok/b.jpg"}


@posix_only("SIGKILL")
def test_a_killed_migration_is_finished_by_a_rerun_copying_nothing_twice(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    _, production = envs
    files = _photos(project / "static" / "uploads", 300, size=40_000)
    # Paused once 20 copies are done: no copy starts while it waits; two may be in flight.
    paused = start_paused(
        project, "migration step done@20", "storage", "migrate", "--to", str(production),
        "--concurrency", "2",
    )  # fmt: skip
    paused.finish(signal.SIGKILL)
    before = _bucket_objects(s3_env)
    assert 20 <= len(before) <= 22, "killed part-way"
    assert all(files[key] == data for key, data in before.items()), "every object is whole"
    rerun = run_cli(project, "storage", "migrate", "--to", str(production), "--json")
    report = json.loads(rerun.stdout)
    assert report["copied"] == 300 - len(before) and report["unchanged"] == len(before)
    assert _bucket_objects(s3_env) == files


@posix_only("the resource module's peak memory of a child process")
def test_a_large_file_moves_in_bounded_memory(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    _, production = envs
    size = 200 * 1024 * 1024
    path = project / "static/uploads/huge.bin"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as stream:
        for _ in range(size // (1 << 20)):
            stream.write(os.urandom(1 << 20))
    measure = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, str(PROJECT_ROOT / "oppdemo.py"),
         "-C", str(project), "storage", "migrate", "--to", str(production)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    peak_mb = int(result.stdout.strip().splitlines()[-1]) / 1024
    print(f"peak resident size moving 200 MB: {peak_mb:.0f} MB")
    assert peak_mb < 150, f"peak resident size {peak_mb:.0f} MB for a 200 MB file"
    head = _client(s3_env).head_object(Bucket=s3_env["S3_BUCKET"], Key="huge.bin")  # type: ignore[attr-defined]
    assert head["ContentLength"] == size


def _run_bytes(project: Path, *arguments: str | bytes, env: dict[str, str] | None = None) -> Any:
    """run_cli with arguments that may be bytes (a file name that is not UTF-8)."""
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), *arguments],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )  # fmt: skip


LATIN1 = b"caf\xe9.jpg"


@posix_only("file names of any bytes")
def test_a_name_that_is_not_utf8_is_refused_alone_with_a_sentence(
    project: Path, tmp_path: Path
) -> None:
    uploads = project / "static/uploads"
    uploads.mkdir(parents=True)
    try:
        with open(bytes(uploads) + b"/" + LATIN1, "wb") as stream:
            stream.write(b"latin-1 name")
    except OSError:
        pytest.skip("this filesystem takes UTF-8 names only (APFS)")
    files = {f"p{index:02d}.jpg": f"photo {index}".encode() for index in range(28)}
    for name, data in files.items():
        (uploads / name).write_bytes(data)
    down = _write_env(project / ".env.down", {"UPLOAD_DIR": str(project / "down")})
    result = run_cli(project, "storage", "migrate", "--to", str(down))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "failed   caf\\xe9.jpg  Storage key 'caf\\xe9.jpg' is not valid UTF-8" in result.stdout
    assert "28 copied" in result.stdout and "1 failed" in result.stdout
    assert "Run the same command again" not in result.stdout, "a rerun fails it again"
    assert _local_files(project / "down") == files
    listed = _run_bytes(project, "storage", "ls")
    assert listed.returncode == 0 and b"caf\\xe9.jpg\n" in listed.stdout
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"photo")
    for command in (
        ("put", str(photo), LATIN1), ("get", LATIN1, str(tmp_path / "got")), ("rm", LATIN1),
        ("url", LATIN1), ("ls", LATIN1),
    ):  # fmt: skip
        refused = _run_bytes(project, "storage", *command)
        assert refused.returncode == 2, (command, refused.stderr)
        assert b"is not valid UTF-8" in refused.stderr and b"Traceback" not in refused.stderr


EVIL = "evil\x1b[2J\x1b]0;PWNED\x07.jpg"


def test_control_characters_in_keys_are_shown_escaped_and_raw_only_in_json(
    project: Path, s3_env: dict[str, str], envs: tuple[Path, Path]
) -> None:
    _, production = envs
    client = _client(s3_env)
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key=EVIL, Body=b"evil")  # type: ignore[attr-defined]
    client.put_object(Bucket=s3_env["S3_BUCKET"], Key="ok.jpg", Body=b"ok")  # type: ignore[attr-defined]
    shown = "evil\\x1b[2J\\x1b]0;PWNED\\x07.jpg"
    for arguments in (("ls",), ("ls", "--long")):
        listed = run_cli(project, "storage", *arguments, env=s3_env)
        assert listed.returncode == 0 and "\x1b" not in listed.stdout and shown in listed.stdout
    as_json = run_cli(project, "storage", "ls", "--json", env=s3_env)
    assert "\x1b" not in as_json.stdout
    assert [json.loads(line)["key"] for line in as_json.stdout.splitlines()] == [EVIL, "ok.jpg"]
    down = _write_env(project / ".env.down", {"UPLOAD_DIR": str(project / "down")})
    migrated = run_cli(project, "storage", "migrate", "--from", str(production), "--to", str(down))
    assert migrated.returncode == 1
    assert "\x1b" not in migrated.stdout + migrated.stderr and shown in migrated.stdout
    assert "Run the same command again" not in migrated.stdout, "no rerun stores that key"


def test_messages_name_the_problem_and_exit_codes_follow_one_rule(
    project: Path, s3_env: dict[str, str]
) -> None:
    root = run_cli(project, "storage", "ls", "/", env=s3_env)
    assert root.returncode == 2 and "is empty" not in root.stderr
    assert "drop the leading '/'" in root.stderr
    missing = {**s3_env, "S3_BUCKET": "no-such-bucket-here"}
    for command in (("rm", "a.jpg"), ("rm", "--yes", "a.jpg", "b.jpg"), ("ls",)):
        result = run_cli(project, "storage", *command, env=missing)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    closed = {**s3_env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    for command in (("rm", "--yes", "a.jpg", "b.jpg"), ("ls",)):
        result = run_cli(project, "storage", *command, env=closed)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr.count("did not answer") == 1, "stopped at the first key"


@posix_only("permission bits that make a file unreadable, and setpriv to apply them to root")
def test_an_unreadable_source_file_is_called_unreadable(project: Path) -> None:
    from .test_cli import _without_permission_override

    uploads = project / "static/uploads"
    uploads.mkdir(parents=True)
    (uploads / "locked.jpg").write_bytes(b"locked")
    (uploads / "locked.jpg").chmod(0o000)
    down = _write_env(project / ".env.down", {"UPLOAD_DIR": str(project / "down")})
    result = run_cli(
        project, "storage", "migrate", "--to", str(down), wrapper=_without_permission_override()
    )
    assert result.returncode == 1, result.stderr
    assert "locked.jpg" in result.stdout and "not readable" in result.stdout
    assert "not writable" not in result.stdout


def test_get_onto_a_full_disk_names_the_path_and_the_fix(project: Path, tmp_path: Path) -> None:
    from .conftest import mounted_tmpfs

    uploads = project / "static/uploads"
    uploads.mkdir(parents=True)
    (uploads / "big.jpg").write_bytes(os.urandom(2 * 1024 * 1024))
    small = tmp_path / "small"
    small.mkdir()
    with mounted_tmpfs(small, "size=1m", "a full disk:"):
        result = run_cli(project, "storage", "get", "big.jpg", str(small / "big.jpg"))
        assert result.returncode == 1, result.stderr
        assert f"Cannot write {small / 'big.jpg'}" in result.stderr
        assert "free space on the disk" in result.stderr and "Traceback" not in result.stderr
        assert list(small.iterdir()) == [], "nothing half-written"


@posix_only("ENAMETOOLONG for a name over 255 bytes (Windows answers otherwise)")
def test_a_name_too_long_for_the_backups_disk_is_not_told_to_free_space(
    project: Path, s3_env: dict[str, str]
) -> None:
    key = "n" * 300 + ".jpg"  # a valid S3 key, a name no local disk holds
    _client(s3_env).put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=b"long")  # type: ignore[attr-defined]
    result = run_cli(project, "storage", "rm", key, env=s3_env)
    assert result.returncode == 1, result.stderr
    assert "longer than this disk allows" in result.stderr and "free space" not in result.stderr
    assert _bucket_objects(s3_env) == {key: b"long"}, "left in place without its copy"


def _whole_bucket_elsewhere(
    project: Path, s3_env: dict[str, str], spelling: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Settings for the whole bucket with its endpoint spelled as `spelling` says, and the
    environment the command then runs in."""
    whole = dict(s3_env)
    if spelling == "aws-config-file":
        # No S3_ENDPOINT_URL: botocore takes the endpoint from the AWS config file.
        del whole["S3_ENDPOINT_URL"]
        config = project.parent / "aws-config"
        config.write_text(f"[default]\nendpoint_url = {s3_env['S3_ENDPOINT_URL']}\n")
        return whole, {"AWS_CONFIG_FILE": str(config)}
    whole["S3_ENDPOINT_URL"] = s3_env["S3_ENDPOINT_URL"] + spelling
    return whole, {}


@pytest.mark.parametrize("spelling", ["aws-config-file", "/.", "/./"])
def test_migrate_refuses_a_bucket_whose_endpoint_is_spelled_otherwise(
    project: Path, s3_env: dict[str, str], spelling: str
) -> None:
    client = _client(s3_env)
    before = {"photos/a.jpg": b"a", "photos/b.jpg": b"b", "other/c.jpg": b"c"}
    for key, body in before.items():
        client.put_object(Bucket=s3_env["S3_BUCKET"], Key=key, Body=body)  # type: ignore[attr-defined]
    prefix = _write_env(project / "prefix.env", {**s3_env, "S3_PREFIX": "photos"})
    settings, env = _whole_bucket_elsewhere(project, s3_env, spelling)
    whole = _write_env(project / "whole-bucket.env", settings)
    result = run_cli(
        project, "storage", "migrate", "--from", str(prefix), "--to", str(whole),
        "--delete", "--yes", env=env,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is inside the target" in result.stderr
    assert f"at {s3_env['S3_ENDPOINT_URL']}" in result.stderr and "AWS" not in result.stderr
    _no_secret(result)
    assert _bucket_objects(s3_env) == before, "nothing deleted"


def test_a_bucket_at_the_config_files_endpoint_is_named_by_it(
    project: Path, s3_env: dict[str, str]
) -> None:
    _client(s3_env).put_object(Bucket=s3_env["S3_BUCKET"], Key="a.jpg", Body=b"a")  # type: ignore[attr-defined]
    other = f"{s3_env['S3_BUCKET']}-other"
    _client(s3_env).create_bucket(Bucket=other)  # type: ignore[attr-defined]
    elsewhere = {**s3_env, "S3_BUCKET": other}
    settings, env = _whole_bucket_elsewhere(project, elsewhere, "aws-config-file")
    target = _write_env(project / "other.env", settings)
    source = _write_env(project / "source.env", s3_env)
    result = run_cli(
        project, "storage", "migrate", "--from", str(source), "--to", str(target), env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"bucket {other} at {s3_env['S3_ENDPOINT_URL']}" in result.stdout
    assert "AWS" not in result.stdout
    assert _bucket_objects({**s3_env, "S3_BUCKET": other}) == {"a.jpg": b"a"}


# Small waits, set through the variables: each request gives up after 2 attempts of 1 s.
_SMALL_WAITS = {"S3_CONNECT_TIMEOUT": "1", "S3_READ_TIMEOUT": "1", "S3_MAX_ATTEMPTS": "2"}


@pytest.mark.parametrize("command", ["ls", "get", "put", "migrate to", "migrate from", "check"])
def test_a_server_that_never_answers_is_reported_in_bounded_time(
    project: Path, s3_env: dict[str, str], silent_server: Any, command: str
) -> None:
    silent = {**s3_env, **_SMALL_WAITS, "S3_ENDPOINT_URL": silent_server.url}
    uploads = project / "static" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "a.jpg").write_bytes(b"a")
    bucket = _write_env(project / "silent.env", silent)
    local = _write_env(project / "local.env", {"UPLOAD_DIR": str(project / "restored")})
    arguments = {
        "ls": ["ls"],
        "get": ["get", "a.jpg", str(project / "a-copy.jpg")],
        "put": ["put", str(uploads / "a.jpg"), "a.jpg"],
        "migrate to": ["migrate", "--to", str(bucket), "--delete", "--yes"],
        "migrate from": ["migrate", "--from", str(bucket), "--to", str(local)],
        "check": ["check"],
    }[command]
    env = {} if command.startswith("migrate") else silent
    started = time.monotonic()
    result = run_cli(project, "storage", *arguments, timeout=90, env=env)
    took = time.monotonic() - started
    # 2 attempts of 1 s, a back-off under 1 s, and start-up: far below this bound.
    assert took < 30, f"{command} took {took:.1f} s"
    assert result.returncode == (1 if command == "check" else 2), result.stdout + result.stderr
    _no_secret(result)
    said = " ".join((result.stdout + result.stderr).split())
    if command == "check":
        assert "Check failed" in said
        # Its own probe of the port waits 5 s; every request is bounded as any other.
        assert not silent_server.accepted or "S3_READ_TIMEOUT" in said
    elif silent_server.accepted:
        # S3_MAX_ATTEMPTS counts every attempt, the first included.
        assert len(silent_server.accepted) == 2
        assert "did not reply within 1 s (2 attempt(s))" in said and "S3_READ_TIMEOUT" in said
    else:
        assert "did not accept a connection within 1 s (2 attempt(s))" in said
        assert "S3_CONNECT_TIMEOUT" in said
    assert not (project / "restored").exists() and not (project / "a-copy.jpg").exists()


@pytest.mark.parametrize("waiting_on", ["copies", "the target's listing"])
def test_ctrl_c_acts_at_once_whatever_the_workers_wait_on(
    project: Path, s3_env: dict[str, str], hanging_proxy: Any, waiting_on: str
) -> None:
    _photos(project / "static" / "uploads", 3)
    _client(s3_env).put_object(Bucket=s3_env["S3_BUCKET"], Key="extra/old.jpg", Body=b"old")  # type: ignore[attr-defined]
    # The server answers until the copies (or the listing) begin, then never again; the
    # waits are long, so that only a run that leaves its workers behind ends in time.
    frozen = {**s3_env, "S3_ENDPOINT_URL": hanging_proxy.url, "S3_READ_TIMEOUT": "120",
              "S3_MAX_ATTEMPTS": "1"}  # fmt: skip
    hanging_proxy.hang = {"PUT"} if waiting_on == "copies" else {"GET"}
    target = _write_env(project / "frozen.env", frozen)
    command = [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "storage",
               "migrate", "--to", str(target), "--delete", "--yes"]  # fmt: skip
    returncode, stdout, stderr, took = _ctrl_c_once_hung(
        command, {**os.environ, "NO_COLOR": "1"}, hanging_proxy
    )
    assert returncode == 130, stdout + stderr
    assert took < 10, f"the Ctrl-C took {took:.1f} s to act"  # 1 s of grace, then the exit
    assert "Traceback" not in stderr
    if waiting_on == "copies":
        assert "Interrupted (SIGINT) after 0 of 4 step(s): no deletion ran" in stderr
        assert "left in flight may or may not have been done" in stderr
    else:
        assert stderr.strip().endswith("Interrupted before anything was changed."), stderr
    assert _bucket_objects(s3_env) == {"extra/old.jpg": b"old"}, "nothing deleted, none half-put"


def test_ctrl_c_stops_a_put_waiting_on_a_server_that_stopped_answering(
    project: Path, s3_env: dict[str, str], hanging_proxy: Any
) -> None:
    photo = project / "a.jpg"
    photo.write_bytes(b"a" * 1000)
    frozen = {**s3_env, "S3_ENDPOINT_URL": hanging_proxy.url, "S3_READ_TIMEOUT": "120",
              "S3_MAX_ATTEMPTS": "1", "NO_COLOR": "1"}  # fmt: skip
    hanging_proxy.hang = {"PUT"}
    command = [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "storage",
               "put", str(photo), "photos/a.jpg"]  # fmt: skip
    returncode, stdout, stderr, took = _ctrl_c_once_hung(
        command, {**os.environ, **frozen}, hanging_proxy
    )
    assert returncode == 130, stdout + stderr
    assert took < 10, f"the Ctrl-C took {took:.1f} s to act"
    said = " ".join(stderr.split())
    assert "Interrupted (SIGINT) while S3 had not answered: photos/a.jpg may or may not" in said
    assert "Traceback" not in stderr and stdout == ""
    assert _bucket_objects(s3_env) == {}, "the frozen server never passed it on"


def test_check_reaches_the_endpoint_of_the_aws_config_file(
    project: Path, s3_env: dict[str, str]
) -> None:
    settings, env = _whole_bucket_elsewhere(project, s3_env, "aws-config-file")
    result = run_cli(project, "storage", "check", "--json", env={**settings, **env})
    _no_secret(result)
    steps = {step["name"]: step for step in json.loads(result.stdout)["steps"]}
    host = s3_env["S3_ENDPOINT_URL"].removeprefix("http://")
    assert steps["endpoint reachable"]["ok"] is True, steps["endpoint reachable"]
    assert steps["endpoint reachable"]["detail"] == host, "the config file's, not AWS"
    assert steps["credentials accepted"]["ok"] is True and steps["bucket exists"]["ok"] is True


def _ctrl_c_once_hung(
    command: list[str], env: dict[str, str], hanging_proxy: Any
) -> tuple[int, str, str, float]:
    """Run `command`, send SIGINT once a request is held by the frozen server: its exit code,
    output and how long it took to act on the signal."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert hanging_proxy.hung.wait(60), process.communicate(timeout=60)
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr, took
