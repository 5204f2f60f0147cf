"""oppdemo on FastOpp-shaped projects of both periods, through the CLI as a maintainer runs it."""

from __future__ import annotations

import filecmp
import json
import tomllib
from pathlib import Path

from .projects import (
    FASTOPP_PYPROJECT,
    capture,
    make_fastopp_2025,
    make_fastopp_current,
    run_cli,
)

EXPECTED_ASSETS = {
    ("main.py", "main.py", "base_assets/main.py"),
    ("models.py", "models.py", "base_assets/models.py"),
    ("admin", "admin", "base_assets/admin"),
    ("routes", "routes", "base_assets/routes"),
    ("templates", "templates", "base_assets/templates"),
    ("static", "static", None),
    ("dependencies", "dependencies", None),
    ("services", "services", None),
    ("blog", "blog", None),
    ("scripts/demo", "scripts", None),
}
EXPECTED_SKIPPED = {
    "demo_assets/README.md",
    "demo_assets/BACKUP_SUMMARY.md",
    "demo_assets/restore_demo.py",
    "demo_assets/restore_demo.sh",
}


def _differing_files(first: Path, second: Path) -> set[str]:
    """Relative paths whose bytes differ, or that exist on one side only (filecmp's view)."""
    result: set[str] = set()

    def walk(compare: filecmp.dircmp[str], prefix: str) -> None:
        for name in compare.diff_files + compare.left_only + compare.right_only:
            result.add(prefix + name)
        for name, sub in compare.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(first, second), "")
    return result


def test_fastopp_2025_needs_no_manifest_and_diff_reports_exactly_the_differing_bytes(
    tmp_path: Path,
) -> None:
    project = make_fastopp_2025(tmp_path / "fastopp")
    result = run_cli(project, "diff", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    reported = {
        path for asset in report["assets"] for key in ("added", "modified", "deleted")
        for path in asset[key]
    }  # fmt: skip
    expected = {
        f"{working}/{path}"
        for working, saved in (
            ("services/storage", "services/storage"),
            ("demo_scripts", "scripts"),
        )
        for path in _differing_files(project / working, project / "demo_assets" / saved)
    }
    assert (
        reported
        == expected
        == {
            "services/storage/s3.py",
            "demo_scripts/add_sample_webinars.py",
            "demo_scripts/add_test_users.py",
        }
    )
    assert [a["saved"] for a in report["assets"]] == [
        "demo_assets/services/storage",
        "demo_assets/scripts",
    ]
    assert run_cli(project, "restore", "--yes").returncode == 0
    assert run_cli(project, "diff").returncode == 0


def test_init_on_fastopps_current_layout_pairs_its_assets(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")
    result = run_cli(project, "init", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert {(a["path"], a["saved"], a["base"]) for a in found["assets"]} == EXPECTED_ASSETS
    assert {item["path"] for item in found["skipped"]} == EXPECTED_SKIPPED
    reasons = {item["path"]: item["reason"] for item in found["skipped"]}
    assert reasons["demo_assets/README.md"] == "documents the snapshot"
    assert "restore_demo.py does not exist" in reasons["demo_assets/restore_demo.py"]
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(FASTOPP_PYPROJECT), "the rest of the file is kept byte for byte"
    table = tomllib.loads(text)["tool"]["oppdemo"]
    assert {(a["path"], a.get("saved", a["path"]), a.get("base")) for a in table["assets"]} == (
        EXPECTED_ASSETS
    )
    assert tomllib.loads(text)["tool"]["ruff"] == {"line-length": 100}


def test_after_init_only_real_drift_shows_and_every_command_runs_through(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")
    assert run_cli(project, "init").returncode == 0
    report = json.loads(run_cli(project, "diff", "--json").stdout)
    drifted = {
        a["path"]: (len(a["added"]), len(a["modified"]), len(a["deleted"]))
        for a in report["assets"]
        if a["added"] or a["modified"] or a["deleted"]
    }
    assert drifted == {"blog": (5, 2, 0)}

    assert run_cli(project, "save").returncode == 0
    assert run_cli(project, "diff").returncode == 0
    saved_state = capture(project)
    destroyed = run_cli(project, "destroy", "--yes", "--force")
    assert destroyed.returncode == 0, destroyed.stderr
    assert (project / "main.py").read_text().endswith("# minimal\n")
    assert sorted(p.name for p in (project / "routes").iterdir()) == ["pages.py"]
    assert not (project / "blog").exists() and not (project / "scripts/demo").exists()
    assert (project / "scripts/init_db.py").exists(), "the app's own scripts stay"
    assert run_cli(project, "restore").returncode == 0
    assert capture(project) == saved_state
    assert run_cli(project, "undo").returncode == 0  # undo the restore: destroyed again
    assert (project / "main.py").read_text().endswith("# minimal\n")
    assert run_cli(project, "undo").returncode == 0  # and undo that: restored, byte-identical
    assert capture(project) == saved_state

    # FastOpp's own backups share the folder, untouched and not listed.
    assert (project / "backups/destroy/main.py.20250808_144836").read_text() == "app = 'old'\n"
    listed = json.loads(run_cli(project, "backups", "--json").stdout)
    assert [row["command"] for row in listed] == [
        "init",
        "save",
        "destroy",
        "restore",
        "undo",
        "undo",
    ]


def test_init_refuses_an_existing_manifest_unless_forced(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")
    assert run_cli(project, "init").returncode == 0
    first = (project / "pyproject.toml").read_bytes()
    again = run_cli(project, "init")
    assert again.returncode == 2
    assert "already has a [tool.oppdemo] table" in again.stderr and "--force" in again.stderr
    assert (project / "pyproject.toml").read_bytes() == first
    forced = run_cli(project, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    text = (project / "pyproject.toml").read_text()
    assert text.count("[tool.oppdemo]") == 1
    assert text.startswith(FASTOPP_PYPROJECT)
    assert run_cli(project, "undo").returncode == 0
    assert (project / "pyproject.toml").read_bytes() == first, "undo puts the old file back"


def test_init_dry_run_prints_the_table_and_writes_nothing(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")
    before = capture(project, exclude=())
    result = run_cli(project, "init", "--dry-run")
    assert result.returncode == 0
    assert '[[tool.oppdemo.assets]]\npath = "scripts/demo"\nsaved = "scripts"\n' in result.stdout
    assert "skip  demo_assets/README.md: documents the snapshot" in result.stdout
    assert capture(project, exclude=()) == before


def test_init_without_a_snapshot_writes_the_defaults(tmp_path: Path) -> None:
    project = tmp_path / "new"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "new"\n')
    assert run_cli(project, "init").returncode == 0
    table = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["oppdemo"]
    assert table["assets"] == [
        {"path": "services/storage"},
        {"path": "demo_scripts", "saved": "scripts"},
    ]


def test_init_pairs_saved_scripts_with_demo_scripts_and_never_with_scripts(tmp_path: Path) -> None:
    project = make_fastopp_2025(tmp_path / "fastopp")
    result = json.loads(run_cli(project, "init", "--dry-run", "--json").stdout)
    assert ("demo_scripts", "scripts") in {(a["path"], a["saved"]) for a in result["assets"]}

    other = make_fastopp_2025(tmp_path / "other")
    (other / "demo_scripts").rename(other / "scripts")  # a scripts/ folder of other things
    result = json.loads(run_cli(other, "init", "--dry-run", "--json").stdout)
    assert "scripts" not in {a["saved"] for a in result["assets"]}
    assert {item["path"]: item["reason"] for item in result["skipped"]}["demo_assets/scripts"] == (
        "no working counterpart: neither scripts/demo nor demo_scripts exists"
    )


def test_init_names_a_project_without_pyproject(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "init")
    assert result.returncode == 2
    assert "No pyproject.toml" in result.stderr
    assert "Traceback" not in result.stderr
