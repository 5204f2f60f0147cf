"""download-sample-photos, run through the CLI in temporary projects, against real servers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from demo_scripts.photo_download import DownloadFailed, fetch_image
from services.storage import FilesystemStorage, get_storage

from .conftest import make_bucket_public
from .photo_server import PhotoServer, make_image
from .projects import PROJECT_ROOT, run_cli

GOOD = {"red.jpg": "photos/red.jpg", "blue.png": "photos/blue.png", "flaky.jpg": "flaky.jpg"}
BAD = {
    "missing.jpg": "HTTP 404",
    "page.jpg": "text/html, not an image",
    "slow.jpg": "no answer within 1 s",
    "huge.jpg": "over the 10485760-byte limit",
    "huge-unsized.jpg": "over the 10485760-byte limit",
    "wrong-signature.jpg": "not a JPEG, PNG or WebP image",
}


def _project(tmp_path: Path) -> Path:
    """A project holding this repository's demo code: services/storage and demo_scripts."""
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    shutil.copytree(PROJECT_ROOT / "services", project / "services", ignore=_caches)
    shutil.copytree(PROJECT_ROOT / "demo_scripts", project / "demo_scripts", ignore=_caches)
    return project


def _caches(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__"]


def _pictures(tmp_path: Path, *names: str) -> Path:
    """A folder of generated photos (JPEG or PNG by extension), for --source."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index, name in enumerate(names):
        image_format = "PNG" if name.endswith(".png") else "JPEG"
        (folder / name).write_bytes(make_image(("red", "blue", "green")[index % 3], image_format))
    return folder


def _catalog(tmp_path: Path, server: PhotoServer, paths: dict[str, str]) -> Path:
    catalog = tmp_path / "catalog.json"
    photos = [{"name": n, "url": server.url(p), "description": n} for n, p in paths.items()]
    catalog.write_text(json.dumps({"photos": photos}))
    return catalog


def _lines(output: str) -> dict[str, list[str]]:
    """Photo lines by key: [status, url-or-reason]."""
    lines = {}
    for line in output.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1].startswith("sample_photos/"):
            lines[parts[1]] = [parts[0], parts[2]]
    return lines


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_filesystem_seed_saves_good_photos_and_names_each_failure(
    tmp_path: Path, photos: PhotoServer, static_site: tuple[Path, str]
) -> None:
    site, origin = static_site
    project = _project(site)
    catalog = _catalog(tmp_path, photos, {**GOOD, **{name: name for name in BAD}})
    result = run_cli(project, "download-sample-photos", "--catalog", str(catalog), "--timeout", "1")
    assert result.returncode == 1, result.stderr
    lines = _lines(result.stdout)
    storage = FilesystemStorage(project / "static" / "uploads")
    for name, path in GOOD.items():
        status, url = lines[f"sample_photos/{name}"]
        assert status == "downloaded"
        assert url == f"/app/static/uploads/sample_photos/{name}".removeprefix("/app")
        expected = photos.images[path.split("/")[-1]] if "/" in path else photos.images["green.jpg"]
        assert storage.get_file(f"sample_photos/{name}") == expected
        assert _fetch(f"{origin}/app{url}") == expected
    for name, reason in BAD.items():
        status, detail = lines[f"sample_photos/{name}"]
        assert status == "failed"
        assert reason in detail
        assert not storage.file_exists(f"sample_photos/{name}"), "a failed photo leaves no key"
    assert photos.hits["flaky.jpg"] == 2
    assert photos.hits["missing.jpg"] == 1
    assert photos.hits["slow.jpg"] == 3
    assert "Summary: 3 downloaded, 0 skipped, 6 failed; storage: filesystem" in result.stdout
    assert sorted(storage.list_files()) == sorted(f"sample_photos/{name}" for name in GOOD)


def test_rerun_skips_and_force_replaces(tmp_path: Path, photos: PhotoServer) -> None:
    project = _project(tmp_path)
    catalog = _catalog(tmp_path, photos, {"red.jpg": "photos/red.jpg"})
    arguments = ("download-sample-photos", "--catalog", str(catalog))
    assert run_cli(project, *arguments).returncode == 0
    stored = project / "static/uploads/sample_photos/red.jpg"
    stored.write_bytes(b"locally changed")
    rerun = run_cli(project, *arguments)
    assert rerun.returncode == 0
    assert _lines(rerun.stdout)["sample_photos/red.jpg"][0] == "skipped"
    assert "0 downloaded, 1 skipped, 0 failed" in rerun.stdout
    assert stored.read_bytes() == b"locally changed"
    assert photos.hits["photos/red.jpg"] == 1
    forced = run_cli(project, *arguments, "--force")
    assert forced.returncode == 0
    assert stored.read_bytes() == photos.images["red.jpg"]


def test_seed_into_s3_and_fetch_the_printed_urls(
    tmp_path: Path, photos: PhotoServer, s3_env: dict[str, str]
) -> None:
    make_bucket_public(s3_env)
    project = _project(tmp_path)
    catalog = _catalog(
        tmp_path, photos, {"red.jpg": "photos/red.jpg", "blue.png": "photos/blue.png"}
    )
    result = run_cli(
        project,
        "download-sample-photos",
        "--catalog",
        str(catalog),
        "--prefix",
        "seed/people",
        env=s3_env,
    )
    assert result.returncode == 0, result.stderr
    assert f"storage: s3 (bucket {s3_env['S3_BUCKET']}" in result.stdout
    storage = get_storage(s3_env)
    for line in result.stdout.splitlines():
        if line.startswith("downloaded"):
            _, key, url = line.split(None, 2)
            name = key.split("/")[-1]
            assert key == f"seed/people/{name}"
            assert storage.get_file(key) == photos.images[name]
            assert _fetch(url) == photos.images[name]
    assert sorted(storage.list_files()) == ["seed/people/blue.png", "seed/people/red.jpg"]


def test_source_folder_works_without_any_server(tmp_path: Path) -> None:
    project = _project(tmp_path)
    source = _pictures(tmp_path, "one.jpg", "two.png")
    (source / "notes.txt").write_text("not a photo")
    result = run_cli(project, "download-sample-photos", "--source", str(source))
    assert result.returncode == 0, result.stderr
    uploads = project / "static/uploads/sample_photos"
    assert sorted(p.name for p in uploads.iterdir()) == ["one.jpg", "two.png"]
    assert (uploads / "one.jpg").read_bytes() == (source / "one.jpg").read_bytes()
    assert "2 copied" in result.stdout


def test_dry_run_writes_nothing(tmp_path: Path, photos: PhotoServer) -> None:
    project = _project(tmp_path)
    catalog = _catalog(tmp_path, photos, {"red.jpg": "photos/red.jpg"})
    result = run_cli(project, "download-sample-photos", "--catalog", str(catalog), "--dry-run")
    assert result.returncode == 0
    assert _lines(result.stdout)["sample_photos/red.jpg"][0] == "planned"
    assert not (project / "static").exists()
    assert photos.hits["photos/red.jpg"] == 0


@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        ((), {"STORAGE_TYPE": "s3x"}, "STORAGE_TYPE='s3x' is not a storage type"),
        ((), {"STORAGE_TYPE": "s3", "S3_BUCKET": "b"}, "needs S3_ACCESS_KEY, S3_SECRET_KEY"),
        (("--catalog", "nowhere.json"), {}, "nowhere.json does not exist"),
        (("--catalog", "bad.json"), {}, "is not valid JSON"),
        (("--source", "no-such-folder"), {}, "no-such-folder does not exist"),
        (("--prefix", "../outside"), {}, "contains '..': keys cannot leave their base"),
    ],
)
def test_configuration_errors_exit_2_before_any_download(
    tmp_path: Path,
    photos: PhotoServer,
    arguments: tuple[str, ...],
    env: dict[str, str],
    message: str,
) -> None:
    project = _project(tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    resolved = tuple(str(tmp_path / a) if a.endswith((".json", "folder")) else a for a in arguments)
    clean_env = {"S3_ACCESS_KEY": "", "S3_SECRET_KEY": "", **env}
    result = run_cli(project, "download-sample-photos", *resolved, env=clean_env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert sum(photos.hits.values()) == 0
    assert not (project / "static").exists()


def test_s3_server_down_is_a_clear_error(tmp_path: Path, s3_env: dict[str, str]) -> None:
    project = _project(tmp_path)
    source = _pictures(tmp_path, "one.jpg")
    env = {**s3_env, "S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = run_cli(project, "download-sample-photos", "--source", str(source), env=env)
    assert result.returncode == 2
    assert "did not answer" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_snapshot_the_message_does_not_promise_a_restore(tmp_path: Path) -> None:
    project = _project(tmp_path)
    shutil.rmtree(project / "demo_scripts")
    result = run_cli(project, "download-sample-photos")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "This project has no demo_scripts/" in result.stderr
    assert "restore" not in result.stderr and "its own script" in result.stderr


def test_both_entry_points_explain_how_to_restore_destroyed_demo_scripts(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert run_cli(project, "save").returncode == 0
    shutil.rmtree(project / "demo_scripts")
    result = run_cli(project, "download-sample-photos")
    assert result.returncode == 2
    assert "`oppdemo restore` brings it back" in result.stderr
    assert "Traceback" not in result.stderr
    scripts = project / "scripts"
    scripts.mkdir()
    shutil.copy(PROJECT_ROOT / "scripts/download_sample_photos.py", scripts)
    shutil.copy(PROJECT_ROOT / "oppdemo.py", project)
    shutil.copytree(PROJECT_ROOT / "oppdemo", project / "oppdemo", ignore=_caches)
    direct = subprocess.run(
        [sys.executable, str(scripts / "download_sample_photos.py")],
        capture_output=True,
        text=True,
        cwd=project,
        stdin=subprocess.DEVNULL,
    )
    assert direct.returncode == 2
    assert "`oppdemo restore` brings it back" in direct.stderr
    assert "Traceback" not in direct.stderr


def test_fetch_retries_only_what_may_succeed(photos: PhotoServer) -> None:
    options: dict[str, Any] = {"timeout": 2, "max_bytes": 1024 * 1024, "backoff": 0.01}
    body, mime = fetch_image(photos.url("flaky.jpg"), **options)
    assert (body, mime) == (photos.images["green.jpg"], "image/jpeg")
    with pytest.raises(DownloadFailed, match="HTTP 503 .*gave up after 3 tries"):
        fetch_image(photos.url("always-500.jpg"), **options)
    with pytest.raises(DownloadFailed, match="HTTP 404"):
        fetch_image(photos.url("missing.jpg"), **options)
    assert (photos.hits["always-500.jpg"], photos.hits["missing.jpg"]) == (3, 1)


def test_a_photo_the_storage_refuses_fails_alone(tmp_path: Path) -> None:
    project = _project(tmp_path)
    source = _pictures(tmp_path, "one.jpg", "two.jpg")
    # A folder where the photo should go: the filesystem refuses to write the file.
    blocked = project / "static/uploads/sample_photos/one.jpg"
    blocked.mkdir(parents=True)
    (blocked / "keep.txt").write_text("not mine")
    result = run_cli(project, "download-sample-photos", "--source", str(source), "--force")
    assert result.returncode == 1
    lines = _lines(result.stdout)
    assert lines["sample_photos/one.jpg"][0] == "failed"
    assert lines["sample_photos/two.jpg"][0] == "copied"
    assert (blocked / "keep.txt").read_text() == "not mine"
    assert "Traceback" not in result.stderr


def test_downloads_share_kept_alive_connections(photos: PhotoServer) -> None:
    import contextlib

    from demo_scripts.photo_download import http_pool

    pool = http_pool(concurrency=1)
    for name in ("red.jpg", "blue.png", "red.jpg", "missing.jpg", "blue.png"):
        with contextlib.suppress(DownloadFailed):
            fetch_image(photos.url(f"photos/{name}"), timeout=2, max_bytes=1 << 20, pool=pool)
    assert sum(photos.hits.values()) == 5
    assert len(photos.connections) == 1, "one connection, kept alive, served every request"


def test_retry_after_is_honoured(photos: PhotoServer) -> None:
    import time

    started = time.monotonic()
    body, mime = fetch_image(photos.url("retry-after.jpg"), timeout=2, max_bytes=1 << 20)
    waited = time.monotonic() - started
    assert mime == "image/jpeg" and body == photos.images["red.jpg"]
    assert photos.hits["retry-after.jpg"] == 2
    assert 0.9 <= waited < 5, "waited the second the server asked for, not the 0.5 s backoff"


def test_a_closed_port_is_named_as_a_connection_failure() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens once the socket is closed
    with pytest.raises(DownloadFailed, match=r"^cannot connect \(.*\) \(gave up after 3 tries\)$"):
        fetch_image(f"http://127.0.0.1:{port}/a.jpg", timeout=1, max_bytes=1024, backoff=0.01)
