"""The `storage` commands on a FastOpp-shaped project: its storage package lives in
`core/services/storage/`, has only the seven methods, and reads os.environ."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .projects import make_fastopp_current, run_cli
from .test_storage_cli import _bucket_objects, _client, _write_env

TEMPLATE = Path(__file__).resolve().parent / "fastopp_storage"


@pytest.fixture
def fastopp(tmp_path: Path) -> Path:
    project = make_fastopp_current(tmp_path / "fastopp")
    shutil.copytree(
        TEMPLATE,
        project / "core/services/storage",
        ignore=shutil.ignore_patterns("__pycache__", "README.md"),
    )
    for folder in ("core", "core/services"):
        (project / folder / "__init__.py").write_text("")
    shutil.rmtree(project / "services/storage")
    shutil.rmtree(project / "demo_assets/services/storage")
    return project


def test_init_finds_the_storage_and_every_command_uses_it(fastopp: Path, tmp_path: Path) -> None:
    before = run_cli(fastopp, "storage", "ls")
    assert before.returncode == 2 and "Traceback" not in before.stderr
    assert "restore" not in before.stderr, "restore cannot bring back what was never an asset"
    assert 'storage = "' in before.stderr and "core.services.storage" in before.stderr

    init = run_cli(fastopp, "init", "--json")
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["storage"] == "core.services.storage"
    assert 'storage = "core.services.storage"' in (fastopp / "pyproject.toml").read_text()

    check = run_cli(fastopp, "storage", "check", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert {step["name"] for step in json.loads(check.stdout)["steps"] if step["ok"]} >= {
        "settings valid",
        "folder writable",
        "probe written",
        "probe read back",
        "probe deleted",
    }
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(range(200)))
    put = run_cli(fastopp, "storage", "put", str(photo), "photos/a b.jpg")
    assert put.returncode == 0 and put.stdout.strip() == "/static/uploads/photos/a%20b.jpg"
    assert run_cli(fastopp, "storage", "ls").stdout.split("\n")[:2] == [
        ".gitkeep",
        "photos/a b.jpg",
    ]
    got = run_cli(fastopp, "storage", "get", "photos/a b.jpg", str(tmp_path / "back.jpg"))
    assert got.returncode == 0 and (tmp_path / "back.jpg").read_bytes() == photo.read_bytes()
    removed = run_cli(fastopp, "storage", "rm", "photos/a b.jpg")
    assert removed.returncode == 0 and not (fastopp / "static/uploads/photos/a b.jpg").exists()
    kept = next((fastopp / "backups/storage").iterdir())
    assert (kept / "photos/a b.jpg").read_bytes() == photo.read_bytes()
    escape = run_cli(fastopp, "storage", "rm", "../../pyproject.toml")
    assert escape.returncode == 2 and (fastopp / "pyproject.toml").is_file()


def test_migrate_into_a_bucket_through_fastopps_own_s3_storage(
    fastopp: Path, s3_env: dict[str, str]
) -> None:
    assert run_cli(fastopp, "init").returncode == 0
    uploads = fastopp / "static/uploads"
    files = {f"photos/{index}.jpg": bytes([index]) * (1000 + index) for index in range(12)}
    for key, data in files.items():
        (uploads / key).parent.mkdir(parents=True, exist_ok=True)
        (uploads / key).write_bytes(data)
    files[".gitkeep"] = b""
    target = _write_env(fastopp / "s3.env", s3_env)
    first = run_cli(fastopp, "storage", "migrate", "--to", str(target), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["copied"] == len(files)
    assert _bucket_objects(s3_env) == files
    again = json.loads(run_cli(fastopp, "storage", "migrate", "--to", str(target), "--json").stdout)
    assert (again["copied"], again["unchanged"]) == (0, len(files))

    private = run_cli(fastopp, "storage", "--env-file", str(target), "check")
    assert private.returncode == 1
    assert "the bucket is private" in private.stdout and "S3_PRESIGN" in private.stdout
    assert s3_env["S3_SECRET_KEY"] not in private.stdout + private.stderr
    _client(s3_env)  # the bucket is still there, untouched by the check
    assert _bucket_objects(s3_env) == files


def test_serve_on_fastopp_says_to_start_its_own_app(fastopp: Path) -> None:
    result = run_cli(fastopp, "serve")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "its own command" in result.stderr and "restore" not in result.stderr
