"""oppdemo on FastOpp-shaped projects of both periods, through the CLI as a maintainer runs it."""

from __future__ import annotations

import filecmp
import json
import tomllib
from pathlib import Path

from .projects import (
    FASTOPP_PYPROJECT,
    FASTOPP_USER_FILES,
    capture,
    make_fastopp_2025,
    make_fastopp_current,
    make_fastopp_main,
    run_cli,
    write_tree,
)

EXPECTED_ASSETS = {
    ("main.py", "main.py", "base_assets/main.py"),
    ("models.py", "models.py", "base_assets/models.py"),
    ("admin", "admin", "base_assets/admin"),
    ("routes", "routes", "base_assets/routes"),
    ("templates", "templates", "base_assets/templates"),
    ("static", "static", None),
    ("dependencies", "dependencies", None),
    ("services/chat_service.py", "services/chat_service.py", None),
    ("services/storage", "services/storage", None),
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
    assert not (project / "scripts/demo").exists()
    assert (project / "blog/_config.yml").exists(), "FastOpp's destroy leaves the blog alone"
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


def _user_files(project: Path, names: list[str]) -> dict[str, bytes]:
    return {name: (project / name).read_bytes() for name in names}


def test_users_uploads_secrets_caches_and_the_database_are_never_touched_or_shown(
    tmp_path: Path,
) -> None:
    project = make_fastopp_main(tmp_path / "fastopp")
    write_tree(project, FASTOPP_USER_FILES)
    user = list(FASTOPP_USER_FILES)
    expected = _user_files(project, user)
    secret = {*FASTOPP_USER_FILES, "uploads/photos", "notes.txt", "_site", "__pycache__", ".env"}
    outputs: list[str] = []

    def run(*arguments: str, code: int = 0) -> None:
        result = run_cli(project, *arguments)
        assert result.returncode == code, (arguments, result.stdout, result.stderr)
        outputs.append(result.stdout + result.stderr)
        assert _user_files(project, user) == expected, f"{arguments} changed the user's files"

    run("init")
    run("diff")  # in sync: the uploads and caches are no drift
    (project / "routes/pages.py").write_text("PAGES = ['/', '/webinars', '/new']\n")
    (project / "static/uploads/sample_photos").mkdir()
    (project / "static/uploads/sample_photos/ada.jpg").write_bytes(b"\xff\xd8 sample")
    run("diff", code=1)
    run("save", "--dry-run")
    run("save")
    run("diff")
    run("destroy", "--dry-run")
    run("destroy", "--yes", "--no-hooks")
    assert not (project / "static/css").exists(), "the demo's static files went"
    run("restore", "--dry-run")
    run("restore")
    run("diff")
    # Made since the restore, in a folder that it created and its undo removes.
    made = {"scripts/demo/__pycache__/seed.cpython-311.pyc": b"\x00", "scripts/demo/.env": "A=1"}
    write_tree(project, made)
    user += made
    expected = _user_files(project, user)
    run("undo")  # the restore: destroyed again
    assert not (project / "routes/api.py").exists()
    run("undo")  # the undo: restored again
    run("diff")
    run("diff", "--json")

    shown = "\n".join(outputs)
    assert "routes/pages.py" in shown and "sample_photos/ada.jpg" in shown, "the demo is shown"
    for name in sorted(secret):
        assert name not in shown, f"{name} appeared in a command's output"
    saved = [path.relative_to(project).as_posix() for path in project.rglob("demo_assets/**/*")]
    assert saved and not [p for p in saved for name in secret if name in p], "a user's file saved"
    # The sample photos FastOpp ships are demo content, though its .gitignore ignores them.
    assert (project / "demo_assets/static/uploads/sample_photos/ada.jpg").is_file()
    assert (project / "demo_assets/static/uploads/.gitkeep").is_file()


def test_init_declares_the_upload_folder_as_data_with_its_demo_entries(tmp_path: Path) -> None:
    project = make_fastopp_main(tmp_path / "fastopp")
    assert run_cli(project, "init").returncode == 0
    text = (project / "pyproject.toml").read_text()
    table = tomllib.loads(text)["tool"]["oppdemo"]
    assert table["data"] == [{"path": "static/uploads", "demo": [".gitkeep", "sample_photos"]}]
    assert "# Users' uploads: no command compares, saves, restores or" in text
    assert table["hooks"]["after-destroy"] == [
        ["uv", "run", "python", "oppman.py", "delete"],
        ["uv", "run", "python", "oppman.py", "db"],
    ]
    destroy = {a["path"]: (a.get("destroy"), a.get("keep")) for a in table["assets"]}
    assert destroy["blog"] == ("keep", None)
    assert destroy["dependencies"] == (None, ["auth.py"])
    assert {path for path in destroy if path.startswith("services")} == {
        "services/chat_service.py",
        "services/product_service.py",
        "services/webinar_service.py",
    }


def _fastopp_destroy(root: Path) -> None:
    """FastOpp's own `destroy` (oppdemo.py at 1bc73f8, destroy_demo_files), step by step on
    the files, without its database steps (the after-destroy hook's job)."""
    import shutil

    for name in ("main.py", "models.py"):
        shutil.copy2(root / "base_assets" / name, root / name)
    for name in ("chat_service.py", "product_service.py", "webinar_service.py"):
        (root / "services" / name).unlink(missing_ok=True)
    auth = (root / "dependencies/auth.py").read_bytes()
    shutil.rmtree(root / "dependencies")
    (root / "dependencies").mkdir()
    (root / "dependencies/auth.py").write_bytes(auth)
    for folder in ("routes", "templates", "admin"):
        shutil.rmtree(root / folder)
        shutil.copytree(root / "base_assets" / folder, root / folder)
    shutil.rmtree(root / "static")
    shutil.rmtree(root / "scripts/demo")


def test_destroy_after_init_does_what_fastopps_own_destroy_does(tmp_path: Path) -> None:
    ours = make_fastopp_main(tmp_path / "ours")
    theirs = make_fastopp_main(tmp_path / "theirs")
    for project in (ours, theirs):
        # The app's own service, beside the demo's, and a user's upload.
        write_tree(project, {"services/billing.py": "class Billing: ...\n"})
        write_tree(project, {"static/uploads/photos/0b9f.jpg": b"\xff\xd8 a user's photo"})
    assert run_cli(ours, "init").returncode == 0
    destroyed = run_cli(ours, "destroy", "--yes", "--no-hooks")
    assert destroyed.returncode == 0, destroyed.stderr
    _fastopp_destroy(theirs)

    ignored = ("backups", "demo_assets", "pyproject.toml")
    after_ours, after_theirs = capture(ours, ignored), capture(theirs, ignored)
    # The one difference: FastOpp's destroy deletes static/ whole, users' uploads included.
    kept_data = {
        "static",
        "static/uploads",
        "static/uploads/photos",
        "static/uploads/photos/0b9f.jpg",
    }
    assert set(after_ours) - set(after_theirs) == kept_data
    assert {key: after_ours[key] for key in after_theirs} == after_theirs
    assert (ours / "blog/_config.yml").is_file() and (ours / "dependencies/auth.py").is_file()
    assert (ours / "services/billing.py").is_file()
    assert sorted(path.name for path in (ours / "dependencies").iterdir()) == ["auth.py"]


def test_save_takes_out_of_the_snapshot_what_an_older_save_copied_there(tmp_path: Path) -> None:
    project = make_fastopp_main(tmp_path / "fastopp")
    # What the older oppdemo saved: users' photos, a secret, a cache (the issue's report).
    leftovers = {
        "demo_assets/static/uploads/photos/0b9f.jpg": b"\xff\xd8 a user's photo",
        "demo_assets/dependencies/.env.local": "SECRET_KEY=x\n",
        "demo_assets/scripts/__pycache__/seed.cpython-311.pyc": b"\x00",
    }
    write_tree(project, leftovers)
    assert run_cli(project, "init").returncode == 0
    assert run_cli(project, "diff").returncode == 0, "no drift: they are no demo code"
    saved = run_cli(project, "save")
    assert saved.returncode == 0, saved.stderr
    assert "remove demo_assets/static/uploads/photos/0b9f.jpg" in saved.stdout
    assert "remove folder demo_assets/scripts/__pycache__/" in saved.stdout
    assert not any((project / name).exists() for name in leftovers)
    assert not (project / "demo_assets/static/uploads/photos").exists()
    assert (project / "demo_assets/static/uploads/.gitkeep").is_file()
    assert run_cli(project, "undo").returncode == 0, "backed up like any removal"
    assert all((project / name).exists() for name in leftovers)


def test_destroy_is_not_stopped_by_unsaved_work_that_it_leaves_in_place(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")  # blog/ has 7 unsaved changes
    assert run_cli(project, "init").returncode == 0
    (project / "dependencies/auth.py").write_text("def current_user(): ...  # mine\n")
    blog = capture(project / "blog")
    destroyed = run_cli(project, "destroy", "--yes", "--no-hooks")
    assert destroyed.returncode == 0, destroyed.stderr
    assert capture(project / "blog") == blog
    assert (project / "dependencies/auth.py").read_text().endswith("# mine\n")
    assert not (project / "dependencies/__init__.py").exists()


def test_a_data_folder_outside_the_project_is_one_sentence_and_changes_nothing(
    tmp_path: Path,
) -> None:
    project = make_fastopp_main(tmp_path / "fastopp")
    assert run_cli(project, "init").returncode == 0
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"static/uploads"', '"../uploads"'))
    before = capture(project, exclude=())
    for arguments in (["diff"], ["save"], ["destroy", "--yes"]):
        result = run_cli(project, *arguments)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            "Error: tool.oppdemo.data[0].path ('../uploads') contains '..': it must stay inside "
            "the project.\n"
        )
    assert capture(project, exclude=()) == before
