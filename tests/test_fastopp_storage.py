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
    # FastOpp's static/uploads/.gitkeep keeps the folder in git: it is no upload.
    assert (fastopp / "static/uploads/.gitkeep").is_file()
    assert run_cli(fastopp, "storage", "ls").stdout == "photos/a b.jpg\n"
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
    assert (uploads / ".gitkeep").is_file()
    target = _write_env(fastopp / "s3.env", s3_env)
    first = run_cli(fastopp, "storage", "migrate", "--to", str(target), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["copied"] == len(files)
    assert json.loads(first.stdout)["skipped"] == [".gitkeep"], "git's placeholder is no upload"
    assert _bucket_objects(s3_env) == files
    again = json.loads(run_cli(fastopp, "storage", "migrate", "--to", str(target), "--json").stdout)
    assert (again["copied"], again["unchanged"]) == (0, len(files))

    private = run_cli(fastopp, "storage", "--env-file", str(target), "check")
    assert private.returncode == 1
    assert "the bucket is private" in private.stdout and "bucket policy" in private.stdout
    # FastOpp's S3Storage has no signed URLs: setting S3_PRESIGN would change nothing.
    assert "S3_PRESIGN" not in private.stdout and "S3_CDN_URL" in private.stdout
    assert s3_env["S3_SECRET_KEY"] not in private.stdout + private.stderr
    _client(s3_env)  # the bucket is still there, untouched by the check
    assert _bucket_objects(s3_env) == files


def test_serve_on_fastopp_says_to_start_its_own_app(fastopp: Path) -> None:
    result = run_cli(fastopp, "serve")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "its own command" in result.stderr and "restore" not in result.stderr


def _prepend(path: Path, line: str) -> None:
    path.write_text(line + "\n" + path.read_text())


def test_a_module_of_the_projects_own_dependencies_names_the_projects_environment(
    fastopp: Path,
) -> None:
    """FastOpp's storage imports pydantic_settings through core.config: a dependency of the
    project's, which no extra of oppdemo's holds (an absent stand-in name here, since the
    suite's environment has pydantic_settings)."""
    assert run_cli(fastopp, "init").returncode == 0
    (fastopp / "core/config.py").write_text("from fastopp_settings_kit import BaseSettings\n")
    _prepend(fastopp / "core/services/storage/__init__.py", "from core import config")
    pyproject = fastopp / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'dependencies = ["fastapi>=0.115"]',
            'dependencies = ["fastapi>=0.115", "fastopp-settings-kit>=2.0"]',
        )
    )
    for command in (("storage", "ls"), ("storage", "check")):
        result = run_cli(fastopp, *command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        message = result.stderr
        assert "'fastopp_settings_kit'" in message and "core/config.py" in message
        assert "the project's own dependencies" in message
        assert "uv run oppdemo" in message and "extra" not in message


def test_the_projects_own_code_that_destroy_removed_names_restore(fastopp: Path) -> None:
    """After destroy, FastOpp's s3.py imports `dependencies`: the project's own folder."""
    assert run_cli(fastopp, "init").returncode == 0
    assert run_cli(fastopp, "save").returncode == 0
    _prepend(fastopp / "core/services/storage/s3.py", "from dependencies.auth import current_user")
    shutil.rmtree(fastopp / "dependencies")
    s3 = {"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "S3_BUCKET": "c"}
    listing = run_cli(fastopp, "storage", "ls", env=s3)
    assert listing.returncode == 2 and "Traceback" not in listing.stderr
    assert "core/services/storage/s3.py" in listing.stderr and "`dependencies`" in listing.stderr
    assert "oppdemo restore" in listing.stderr and "not installed" not in listing.stderr
    check = run_cli(fastopp, "storage", "check", env=s3)
    assert check.returncode == 1
    (line,) = [line for line in check.stdout.splitlines() if line.startswith("✗")]
    assert "settings valid" in line
    assert "oppdemo restore" in line and "not installed" not in line


def test_a_missing_bucket_line_says_what_to_do(fastopp: Path, s3_env: dict[str, str]) -> None:
    assert run_cli(fastopp, "init").returncode == 0
    absent = {**s3_env, "S3_BUCKET": "no-such-bucket-here"}
    result = run_cli(fastopp, "storage", "check", env=absent)
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert "no-such-bucket-here" in line and "create it, or correct S3_BUCKET" in line
    assert "NoSuchBucket" not in line
    assert "the fix is on its line" in result.stdout


def test_check_leaves_nothing_behind_and_get_refuses_in_one_sentence(
    fastopp: Path, tmp_path: Path
) -> None:
    assert run_cli(fastopp, "init").returncode == 0
    uploads = fastopp / "static/uploads"
    before = sorted(path.relative_to(uploads) for path in uploads.rglob("*"))
    check = run_cli(fastopp, "storage", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert sorted(path.relative_to(uploads) for path in uploads.rglob("*")) == before
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    assert run_cli(fastopp, "storage", "put", str(photo), "a.jpg").returncode == 0
    existing = tmp_path / "existing.jpg"
    existing.write_bytes(b"mine")
    got = run_cli(fastopp, "storage", "get", "a.jpg", str(existing))
    assert got.returncode == 2 and existing.read_bytes() == b"mine"
    assert got.stderr.strip() == (
        f"Error: {existing} already exists: choose another destination, or remove it first."
    )
