"""get_storage(): backend choice from the environment and `.env`, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.storage import (
    FilesystemStorage,
    MemoryStorage,
    S3Storage,
    StorageConfigError,
    get_storage,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_filesystem_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = get_storage({})
    assert isinstance(storage, FilesystemStorage)
    assert storage.base_dir == Path("static/uploads")
    assert storage.get_file_url("a.jpg") == "/static/uploads/a.jpg"


@pytest.mark.parametrize("value", ["S3", "s3", " S3 "])
def test_storage_type_is_read_in_any_case(value: str, s3_env: dict[str, str]) -> None:
    assert isinstance(get_storage({**s3_env, "STORAGE_TYPE": value}), S3Storage)


def test_memory_backend_can_be_chosen() -> None:
    assert isinstance(get_storage({"STORAGE_TYPE": "Memory"}), MemoryStorage)


@pytest.mark.parametrize("typo", ["s4", "file", "filesytem", "minio"])
def test_a_typo_in_storage_type_names_the_allowed_values(typo: str) -> None:
    with pytest.raises(StorageConfigError) as info:
        get_storage({"STORAGE_TYPE": typo})
    assert str(info.value) == (
        f"STORAGE_TYPE={typo!r} is not a storage type: set it to one of filesystem, s3, memory."
    )


def test_missing_s3_variables_are_named_exactly() -> None:
    with pytest.raises(StorageConfigError) as info:
        get_storage({"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "k"})
    message = str(info.value)
    assert "S3_SECRET_KEY, S3_BUCKET" in message
    assert "S3_ACCESS_KEY" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [("S3_PRESIGN", "maybe"), ("S3_MAX_ATTEMPTS", "0"), ("S3_RETRY_MODE", "eager")],
)
def test_bad_optional_values_are_named(name: str, value: str) -> None:
    env = {"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s", "S3_BUCKET": "b"}
    with pytest.raises(StorageConfigError, match=name):
        get_storage({**env, name: value})


def test_dotenv_file_is_read_and_real_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("STORAGE_TYPE=filesystem\nUPLOAD_DIR=from-dotenv\nUPLOAD_URL=/files\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORAGE_TYPE", raising=False)
    monkeypatch.delenv("UPLOAD_URL", raising=False)
    monkeypatch.setenv("UPLOAD_DIR", "from-environment")
    storage = get_storage()
    assert isinstance(storage, FilesystemStorage)
    assert storage.base_dir == Path("from-environment")
    assert storage.get_file_url("x.png") == "/files/x.png"


def test_dotenv_typo_is_reported_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("STORAGE_TYPE=s3x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STORAGE_TYPE", raising=False)
    with pytest.raises(StorageConfigError, match="'s3x'"):
        get_storage()


def test_filesystem_backend_never_imports_boto3(tmp_path: Path) -> None:
    code = (
        "import sys; from services.storage import get_storage; get_storage({}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
