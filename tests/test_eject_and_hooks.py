"""`eject` (leave the demo machinery for good, undoably) and `[tool.oppdemo.hooks]`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .projects import (
    capture,
    make_demo_project,
    make_fastopp_current,
    make_project,
    posix_only,
    run_cli,
)

HOOK = (
    "import pathlib, sys; "
    "pathlib.Path('hook-ran.txt').write_text(' '.join(sys.argv[1:])); print('db reset')"
)


def _with_table(project: Path, table: str) -> None:
    path = project / "pyproject.toml"
    path.write_text(path.read_text() + table)


def test_eject_removes_the_machinery_and_undo_puts_it_back(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    (project / "oppdemo.py").write_text(
        '"""shim"""\nfrom oppdemo.__main__ import main\n\nif __name__ == "__main__":\n    main()\n'
    )
    assert run_cli(project, "save").returncode == 0
    before = capture(project)
    pyproject = (project / "pyproject.toml").read_text()

    dry = run_cli(project, "eject", "--dry-run")
    assert dry.returncode == 0 and "nothing was changed" in dry.stdout
    assert capture(project) == before
    refused = run_cli(project, "eject")
    assert refused.returncode == 2 and "--yes" in refused.stderr

    done = run_cli(project, "eject", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert not (project / "demo_assets").exists()
    assert not (project / "base_assets/demo_app").exists()
    assert not (project / "oppdemo.py").exists()
    text = (project / "pyproject.toml").read_text()
    assert "[tool.oppdemo]" not in text and "[tool.ruff]" in text
    assert text.startswith(pyproject[: pyproject.index("[tool.oppdemo]")].rsplit("\n#", 1)[0])
    for kept in ("services/storage/s3.py", "demo_scripts/download_sample_photos.py", "demo_app"):
        assert (project / kept).exists(), "the assets' working files stay"

    undone = run_cli(project, "undo")
    assert undone.returncode == 0, undone.stderr
    assert capture(project) == before
    assert (project / "pyproject.toml").read_text() == pyproject


def test_eject_with_a_custom_backups_folder_says_how_to_undo(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace("[tool.oppdemo]\n", '[tool.oppdemo]\nbackups = "var/oppdemo backups"\n', 1)
    )
    assert run_cli(project, "save").returncode == 0
    before = capture(project, exclude=("var",))
    done = run_cli(project, "eject", "--yes")
    assert done.returncode == 0, done.stderr
    assert "`oppdemo undo --backups 'var/oppdemo backups' " in done.stdout
    # Without the table, the default folder is looked in, and the custom one must be named.
    assert run_cli(project, "undo").returncode != 0
    listed = run_cli(project, "backups", "--backups", "var/oppdemo backups", "--json")
    assert [item["command"] for item in json.loads(listed.stdout)][-1] == "eject"
    outside = run_cli(project, "undo", "--backups", "../elsewhere")
    assert outside.returncode == 2 and "'..'" in outside.stderr
    undone = run_cli(project, "undo", "--backups", "var/oppdemo backups")
    assert undone.returncode == 0, undone.stderr
    assert capture(project, exclude=("var",)) == before


def test_eject_leaves_a_projects_own_oppdemo_py_alone(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")
    (project / "oppdemo.py").write_text("# FastOpp's own oppdemo.py\n")
    assert run_cli(project, "init").returncode == 0
    from oppdemo import load_manifest

    bases = [asset.base for asset in load_manifest(project).assets if asset.base]
    assert bases
    assert run_cli(project, "eject", "--yes").returncode == 0
    assert (project / "oppdemo.py").read_text() == "# FastOpp's own oppdemo.py\n"
    assert not (project / "demo_assets").exists()
    assert not [base for base in bases if (project / base).exists()]
    assert not (project / "base_assets").exists(), "init's base folder goes whole"


def test_hooks_run_after_the_change_and_a_failure_names_the_hook(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    python = json.dumps(sys.executable)
    _with_table(
        project,
        "\n[tool.oppdemo.hooks]\n"
        f'after-destroy = [[{python}, "-c", {json.dumps(HOOK)}, "reset", "db"]]\n'
        f'after-restore = [[{python}, "-c", "import sys; sys.exit(3)"]]\n',
    )
    assert run_cli(project, "save").returncode == 0

    dry = run_cli(project, "destroy", "--dry-run")
    assert "would run after-destroy hook:" in dry.stdout and "reset db" in dry.stdout
    assert not (project / "hook-ran.txt").exists()

    skipped = run_cli(project, "destroy", "--yes", "--no-hooks")
    assert skipped.returncode == 0 and not (project / "hook-ran.txt").exists()
    assert run_cli(project, "undo").returncode == 0

    destroyed = run_cli(project, "destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert (project / "hook-ran.txt").read_text() == "reset db"
    assert "db reset" in destroyed.stdout

    restored = run_cli(project, "restore")
    assert restored.returncode == 1
    assert "after-restore hook" in restored.stderr and "exit 3" in restored.stderr
    assert "Traceback" not in restored.stderr
    assert run_cli(project, "diff").returncode == 0, "the restore's changes stay"
    assert run_cli(project, "undo").returncode == 0, "and stay undoable"


def test_a_hook_must_be_an_argument_list(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    _with_table(project, '\n[tool.oppdemo.hooks]\nafter-save = ["rm -rf /"]\n')
    result = run_cli(project, "save")
    assert result.returncode == 2 and "list of arguments" in result.stderr


def test_a_hook_that_cannot_run_stops_the_command_before_it_changes_anything(
    tmp_path: Path,
) -> None:
    project = make_demo_project(tmp_path)
    _with_table(project, '\n[tool.oppdemo.hooks]\nafter-save = [["no-such-program-here"]]\n')
    result = run_cli(project, "save")
    assert result.returncode == 2 and "no-such-program-here" in result.stderr
    assert not (project / "demo_assets").exists(), "nothing was saved"
    assert run_cli(project, "save", "--no-hooks").returncode == 0


def test_an_empty_hook_is_refused(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    _with_table(project, '\n[tool.oppdemo.hooks]\nafter-save = [[""]]\n')
    assert run_cli(project, "save").returncode == 2


@posix_only("SIGINT sent to another process")
def test_ctrl_c_during_a_hook_says_the_files_were_changed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from .projects import PROJECT_ROOT

    project = make_demo_project(tmp_path)
    # The hook says it has started (the files are changed then), and waits for the signal.
    started = tmp_path / "hook-started"
    hook = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(20)"
    sleeper = json.dumps([sys.executable, "-c", hook])
    _with_table(project, f"\n[tool.oppdemo.hooks]\nafter-save = [{sleeper}]\n")
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "save"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists(), "the hook ran"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert "after the files were changed" in stderr and "oppdemo undo" in stderr


def test_a_file_named_like_the_backups_folder_is_one_sentence(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    (project / "backups").write_text("not a folder")
    result = run_cli(project, "save")
    assert result.returncode == 2 and "is a file" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_projects_own_machinery_cannot_be_an_asset(tmp_path: Path) -> None:
    for index, path in enumerate(("pyproject.toml", ".git", ".git/hooks")):
        (tmp_path / str(index)).mkdir()
        project = make_demo_project(tmp_path / str(index))
        _with_table(project, f'\n[[tool.oppdemo.assets]]\npath = "{path}"\n')
        result = run_cli(project, "diff")
        assert result.returncode == 2 and "machinery" in result.stderr, (path, result.stderr)


def test_init_then_eject_gives_pyproject_back_byte_for_byte(tmp_path: Path) -> None:
    project = make_fastopp_current(tmp_path / "fastopp")
    original = (project / "pyproject.toml").read_bytes()
    assert run_cli(project, "init").returncode == 0
    assert b"[tool.oppdemo]" in (project / "pyproject.toml").read_bytes()
    assert run_cli(project, "eject", "--yes").returncode == 0
    assert (project / "pyproject.toml").read_bytes() == original


def test_a_plain_undo_after_an_eject_elsewhere_undoes_nothing_older(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    assert run_cli(project, "save").returncode == 0  # a backup in backups/
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        text.replace("[tool.oppdemo]\n", '[tool.oppdemo]\nbackups = "var/kept"\n', 1)
    )
    assert run_cli(project, "eject", "--yes").returncode == 0
    before = capture(project, exclude=("backups", "var"))
    plain = run_cli(project, "undo")
    assert plain.returncode == 2 and "--backups" in plain.stderr
    assert capture(project, exclude=("backups", "var")) == before
    assert run_cli(project, "undo", "--backups", "var/kept").returncode == 0


def test_a_project_without_a_table_still_undoes_its_own_save(tmp_path: Path) -> None:
    from .projects import make_fastopp_2025

    project = make_fastopp_2025(tmp_path / "fastopp")
    assert "[tool.oppdemo]" not in (project / "pyproject.toml").read_text()
    assert run_cli(project, "save").returncode == 0
    assert run_cli(project, "undo").returncode == 0, "the defaults' own save"


def test_eject_removes_the_whole_base_folder_and_diff_then_has_nothing_to_compare(
    tmp_path: Path,
) -> None:
    from .projects import make_fastopp_current

    project = make_fastopp_current(tmp_path / "fastopp")
    assert run_cli(project, "init").returncode == 0
    assert (project / "base_assets/README.md").is_file()
    assert (project / "base_assets/scripts/emergency_access.py").is_file()
    before = capture(project)
    done = run_cli(project, "eject", "--yes")
    assert done.returncode == 0, done.stderr
    assert not (project / "base_assets").exists(), "nothing of the bases is left behind"
    assert not (project / "demo_assets").exists()
    for arguments, first in (
        (("diff",), "No demo machinery: "),
        (("diff", "--format", "github"), "::notice "),
    ):
        result = run_cli(project, *arguments)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(first) and "oppdemo init" in result.stdout
    assert json.loads(run_cli(project, "diff", "--json").stdout)["state"] == "none"
    assert run_cli(project, "undo").returncode == 0
    assert capture(project) == before


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_pre_commit_hook_names_the_missing_step_and_only_what_drifted(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "app")
    (project / ".gitignore").write_text("backups/\n")

    def git(*arguments: str) -> bytes:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *arguments],
            cwd=project, check=True, capture_output=True,
        ).stdout  # fmt: skip

    def hook() -> subprocess.CompletedProcess[str]:
        """What pre-commit does for a commit: unstaged changes set aside, the hook run with
        PRE_COMMIT=1, the changes put back (its staged_files_only)."""
        tree = git("write-tree").decode().strip()
        patch = subprocess.run(
            ["git", "diff-index", "--ignore-submodules", "--binary", "--no-color",
             "--no-ext-diff", tree, "--"],
            cwd=project, check=True, capture_output=True,
        ).stdout  # fmt: skip
        if patch:
            git("checkout", "--", ".")
        try:
            return run_cli(project, "diff", env={"PRE_COMMIT": "1"})
        finally:
            if patch:
                subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], input=patch,
                               cwd=project, check=True, capture_output=True)  # fmt: skip

    git("init", "-q")
    assert run_cli(project, "save").returncode == 0
    git("add", "-A")
    git("commit", "-qm", "start")
    (project / "services/storage/base.py").write_text("class Storage:\n    changed = 1\n")
    git("add", "services/storage/base.py")
    unsaved = hook()
    assert unsaved.returncode == 1
    assert unsaved.stdout.splitlines() == [
        "M services/storage/base.py",
        "services/storage: 0 added, 1 modified, 0 deleted since the last save",
        "Drift: run `oppdemo save` and `git add demo_assets/`, then commit again.",
    ]
    assert run_cli(project, "save").returncode == 0
    unstaged = hook()
    assert unstaged.returncode == 1
    assert unstaged.stdout.splitlines()[-1] == (
        "Drift: the last `oppdemo save` is not staged: run `git add demo_assets/`, "
        "then commit again."
    )
    assert "in sync" not in unstaged.stdout
    git("add", "demo_assets/")
    assert hook().returncode == 0
    git("commit", "-qm", "changed")

    # A new file: pre-commit leaves the save's untracked copy in place, so only git knows.
    (project / "services/storage/new.py").write_text("NEW = 1\n")
    (project / "demo_scripts/later.py").write_text("not in this commit\n")
    assert run_cli(project, "save").returncode == 0
    git("add", "services/storage/new.py")
    new = hook()
    assert new.returncode == 1
    assert new.stdout.splitlines() == [
        "A services/storage/new.py",
        "services/storage: 1 added, 0 modified, 0 deleted since the last save",
        "Drift: the last `oppdemo save` is not staged: run `git add demo_assets/`, "
        "then commit again.",
    ], "demo_scripts/later.py is in neither the commit nor git: nothing is missing"
    git("add", "demo_assets/services/")
    assert hook().returncode == 0
