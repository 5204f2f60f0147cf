"""Loading the project's own code: a missing module is named with the fix that brings it."""

from __future__ import annotations

from pathlib import Path

from oppdemo.project_code import DemoCodeMissingError, MissingPackageError, missing_package

from .projects import make_project, run_cli


def test_the_extra_is_offered_only_for_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\n'
        "dependencies = [\"Pydantic.Settings[dotenv]>=2; python_version >= '3.11'\"]\n"
    )
    boto = missing_package("botocore.session", tmp_path, "core/services/storage/s3.py")
    assert isinstance(boto, MissingPackageError)
    assert "'botocore'" in str(boto) and "oppdemo[s3]" in str(boto)
    web = missing_package("uvicorn", tmp_path)
    assert "oppdemo[demo]" in str(web)
    own = missing_package("pydantic_settings", tmp_path, "core/config.py")
    assert "imported by core/config.py" in str(own)
    assert "the project's own dependencies" in str(own) and "extra" not in str(own)
    assert "uv run oppdemo" in str(own)
    other = missing_package("left_pad", tmp_path)
    assert "extra" not in str(other) and "project's own dependencies" not in str(other)
    assert "project's environment" in str(other)


def test_the_projects_own_code_in_the_snapshot_names_restore(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    assert run_cli(project, "save").returncode == 0
    gone = missing_package("demo_scripts.seed", project, "services/storage/s3.py")
    assert isinstance(gone, DemoCodeMissingError)
    assert "`oppdemo restore` brings it back" in str(gone)
    assert "services/storage/s3.py" in str(gone) and "not installed" not in str(gone)
