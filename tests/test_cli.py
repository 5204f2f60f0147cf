"""The CLI as users and CI meet it: a real subprocess, exit codes, output formats, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .projects import PROJECT_ROOT, capture, make_project, posix_only, run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "app")
    assert run_cli(project, "save").returncode == 0
    return project


def _no_traceback(result: object) -> None:
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.stdout  # type: ignore[attr-defined]


def test_diff_exit_codes_follow_diff1(project: Path, tmp_path: Path) -> None:
    assert run_cli(project, "diff").returncode == 0
    (project / "demo_scripts/seed.py").write_text("print('edited')\n")
    drift = run_cli(project, "diff")
    assert drift.returncode == 1
    assert "M demo_scripts/seed.py" in drift.stdout.splitlines()
    missing = run_cli(tmp_path / "nowhere", "diff")
    assert missing.returncode == 2
    assert "No pyproject.toml" in missing.stderr
    _no_traceback(missing)


def test_diff_json_shape(project: Path) -> None:
    (project / "services/storage/zz.py").write_text("")
    (project / "services/storage/aa.py").write_text("")
    (project / "services/storage/base.py").unlink()
    result = run_cli(project, "diff", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["in_sync"] is False
    assert data["assets"][0] == {
        "path": "services/storage",
        "saved": "demo_assets/services/storage",
        "added": ["services/storage/aa.py", "services/storage/zz.py"],
        "modified": [],
        "deleted": ["services/storage/base.py"],
    }
    assert data["assets"][1]["path"] == "demo_scripts"


def test_diff_patch_shows_unified_diffs_of_text_files(project: Path) -> None:
    (project / "demo_scripts/seed.py").write_text("print('seeding')\nprint('more')\n")
    data = project / "demo_scripts/data/logo.bin"
    data.write_bytes(data.read_bytes()[::-1])
    result = run_cli(project, "diff", "--patch")
    assert result.returncode == 1
    assert "--- a/demo_assets/scripts/seed.py" in result.stdout
    assert "+++ b/demo_scripts/seed.py" in result.stdout
    assert "+print('more')" in result.stdout
    assert "M demo_scripts/data/logo.bin" in result.stdout
    assert "logo.bin\n+++" not in result.stdout


def test_diff_github_format_prints_annotations(project: Path) -> None:
    (project / "demo_scripts/new,file.py").write_text("")
    result = run_cli(project, "diff", "--format", "github")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(
        "::error file=demo_scripts/new%2Cfile.py,title=Demo assets drift::"
    )


def test_piped_output_is_plain_and_unwrapped(project: Path) -> None:
    deep = project / "services/storage" / ("very_long_folder_name_" * 5)
    deep.mkdir()
    (deep / "file.py").write_text("")
    result = run_cli(project, "diff")
    assert "\x1b[" not in result.stdout
    assert f"A {deep.relative_to(project).as_posix()}/file.py" in result.stdout.splitlines()


def test_save_dry_run_prints_the_plan_and_changes_nothing(project: Path) -> None:
    (project / "demo_scripts/seed.py").write_text("changed")
    before = capture(project, exclude=())
    result = run_cli(project, "save", "--dry-run")
    assert result.returncode == 0
    assert "overwrite demo_assets/scripts/seed.py" in result.stdout
    assert "nothing was changed" in result.stdout
    assert capture(project, exclude=()) == before


def test_destroy_needs_yes_without_a_terminal(project: Path) -> None:
    before = capture(project)
    result = run_cli(project, "destroy")
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert capture(project) == before
    assert run_cli(project, "destroy", "--yes").returncode == 0
    assert not (project / "services/storage").exists()
    restored = run_cli(project, "undo")
    assert restored.returncode == 0
    assert capture(project) == before


def test_destroy_with_unsaved_work_exits_2_unless_forced(project: Path) -> None:
    (project / "demo_scripts/seed.py").write_text("unsaved")
    result = run_cli(project, "destroy", "--yes")
    assert result.returncode == 2
    assert "--force" in result.stderr
    _no_traceback(result)
    assert run_cli(project, "destroy", "--yes", "--force").returncode == 0


def test_backups_lists_each_command(project: Path) -> None:
    (project / "demo_scripts/seed.py").write_text("changed")
    run_cli(project, "save")
    result = run_cli(project, "backups")
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[1] for row in rows] == ["save", "save"]
    assert rows[1][3] == "1"
    listed = json.loads(run_cli(project, "backups", "--json").stdout)
    assert listed[1]["size"] == len("print('seeding')\n")


def test_undo_of_an_unknown_backup_is_a_clear_error(project: Path) -> None:
    result = run_cli(project, "undo", "no-such-id")
    assert result.returncode == 2
    assert "There is no backup 'no-such-id'" in result.stderr
    _no_traceback(result)


def test_a_second_process_fails_at_once_while_the_lock_is_held(project: Path) -> None:
    (project / "demo_scripts/seed.py").write_text("changed")
    before = capture(project, exclude=())
    from filelock import FileLock

    with FileLock(project / "backups/.oppdemo.lock", preserve_lock_file=True):
        result = run_cli(project, "save", timeout=20)
    assert result.returncode == 2
    assert "Another oppdemo command is changing this project" in result.stderr
    assert capture(project, exclude=()) == before
    assert run_cli(project, "diff").returncode == 1, "diff only reads and needs no lock"


def test_bad_manifest_exits_2_naming_the_key(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('saved = "scripts"', 'saved = "../x"'))
    result = run_cli(project, "save")
    assert result.returncode == 2
    assert "tool.oppdemo.assets[1].saved" in result.stderr
    _no_traceback(result)


def test_project_dir_option_and_default(project: Path) -> None:
    import subprocess
    import sys

    from .projects import PROJECT_ROOT

    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "diff"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "In sync" in result.stdout


def _without_permission_override() -> tuple[str, ...]:
    """A command prefix under which permission bits apply, wherever the checkout lives.

    Root reads anything through two capabilities; dropping just those keeps root's identity,
    so the interpreter and the checkout stay reachable (a root-only `mktemp -d`, say) while a
    mode-000 file becomes unreadable. Any other user meets the permission bits anyway.
    """
    if os.geteuid() != 0:
        return ()
    caps = "-dac_override,-dac_read_search"
    return ("setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}")


@posix_only("permission bits that make a file unreadable, and setpriv to apply them to root")
@pytest.mark.parametrize("unreadable", ["demo_scripts/seed.py", "demo_scripts/brand_new.py"])
def test_an_unreadable_file_is_a_clear_error_and_changes_nothing(
    tmp_path: Path, unreadable: str
) -> None:
    project = make_project(tmp_path / "app")
    assert run_cli(project, "save").returncode == 0
    prefix = _without_permission_override()
    target = project / unreadable
    target.write_text("secret draft\n")
    target.chmod(0o000)
    before = capture(project, exclude=())
    for command in ("save", "diff"):
        result = run_cli(project, command, wrapper=prefix)
        if command == "diff" and unreadable.endswith("brand_new.py"):
            # A new file is listed as added without being read.
            assert result.returncode == 1, result.stderr
        else:
            assert result.returncode == 2, result.stdout + result.stderr
            assert "Cannot read" in result.stderr
            assert unreadable in result.stderr
            _no_traceback(result)
        assert capture(project, exclude=()) == before
    target.chmod(0o644)


def test_changing_commands_speak_json(project: Path) -> None:
    (project / "demo_scripts/seed.py").write_text("changed")
    planned = json.loads(run_cli(project, "save", "--dry-run", "--json").stdout)
    assert planned == {
        "command": "save",
        "backup": None,
        "undo": None,
        "operations": [{"action": "overwrite", "path": "demo_assets/scripts/seed.py"}],
    }
    saved = json.loads(run_cli(project, "save", "--json").stdout)
    assert saved["undo"] == f"oppdemo undo {saved['backup']}"
    assert saved["backup"] in [
        row["id"] for row in json.loads(run_cli(project, "backups", "--json").stdout)
    ]
    undone = json.loads(run_cli(project, "undo", "--json").stdout)
    assert undone["operations"] == [{"action": "overwrite", "path": "demo_assets/scripts/seed.py"}]


@pytest.mark.parametrize(
    "arguments",
    [("diff",), ("save",), ("restore",), ("backups",), ("destroy", "--yes", "--force"), ("undo",)],
)
def test_asset_commands_never_import_boto3(project: Path, arguments: tuple[str, ...]) -> None:

    result = run_cli(project, *arguments, python_flags=("-X", "importtime"))
    assert result.returncode in (0, 1), result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert "oppdemo.assets.commands" in imported, "the import log was read"
    assert not [name for name in imported if name.split(".")[0] in ("boto3", "botocore")]


def test_single_file_assets_in_every_diff_output(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app", '[[tool.oppdemo.assets]]\npath = "main.py"\n\n'
        '[[tool.oppdemo.assets]]\npath = "demo_scripts"\n',
    )  # fmt: skip
    (project / "main.py").write_text("print('v1')\n")
    assert run_cli(project, "save").returncode == 0
    assert run_cli(project, "diff").returncode == 0
    (project / "main.py").write_text("print('v2')\n")
    text = run_cli(project, "diff", "--patch")
    assert text.returncode == 1, text.stderr
    assert "M main.py" in text.stdout.splitlines()
    assert "-print('v1')\n+print('v2')" in text.stdout
    data = json.loads(run_cli(project, "diff", "--json").stdout)
    assert data["assets"][0] == {
        "path": "main.py", "saved": "demo_assets/main.py",
        "added": [], "modified": ["main.py"], "deleted": [],
    }  # fmt: skip
    github = run_cli(project, "diff", "--format", "github").stdout
    assert github.startswith("::error file=main.py,title=Demo assets drift::")


def test_github_annotations_name_paths_from_the_repository_root(project: Path) -> None:
    """The Action runs `oppdemo -C <project>` from the repository root, where GitHub reads an
    annotation's path: a project in a subfolder is named with it."""
    (project / "demo_scripts/new.py").write_text("")
    for fast in (True, False):
        command = [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", project.name, "diff",
                   "--format", "github", *([] if fast else ["--patch"])]  # fmt: skip
        result = subprocess.run(command, cwd=project.parent, capture_output=True, text=True)
        first = result.stdout.splitlines()[0]
        assert first.startswith(f"::error file={project.name}/demo_scripts/new.py,"), first
        assert f"`oppdemo -C {project.name} save`" in first


def _many_new_files(project: Path, count: int) -> list[str]:
    """`count` new files, each in a folder of its own (folders are hidden steps)."""
    names = []
    for index in range(count):
        path = project / "demo_scripts" / f"set{index:02}" / "inner" / f"file{index:02}.py"
        path.parent.mkdir(parents=True)
        path.write_text(f"{index}\n")
        names.append(path.relative_to(project).as_posix())
    return names


def test_piped_every_command_lists_every_file_it_changes(project: Path) -> None:
    names = _many_new_files(project, 45)
    saved = run_cli(project, "save")
    assert saved.returncode == 0
    lines = saved.stdout.splitlines()
    assert [line for line in lines if line.startswith("copy ")] == sorted(
        f"copy {name.replace('demo_scripts/', 'demo_assets/scripts/')}" for name in names
    )
    assert not any("more" in line for line in lines)
    undone = run_cli(project, "undo")
    assert undone.returncode == 0
    removed = [line for line in undone.stdout.splitlines() if line.startswith("remove ")]
    assert len([line for line in removed if line.endswith(".py")]) == 45
    assert not any("more" in line for line in undone.stdout.splitlines())


def test_on_a_terminal_a_long_list_is_cut_and_names_verbose(project: Path) -> None:
    _many_new_files(project, 45)
    terminal = {"TTY_COMPATIBLE": "1", "COLUMNS": "200"}
    saved = run_cli(project, "save", env=terminal)
    lines = saved.stdout.splitlines()
    # Thirty files, whatever the folders made for them: those are never listed or counted.
    assert len([line for line in lines if line.startswith("copy ")]) == 30
    assert "… and 15 more (--verbose lists every file)" in lines
    assert run_cli(project, "undo", env=terminal).returncode == 0
    verbose = run_cli(project, "save", "--verbose", env=terminal)
    assert len([line for line in verbose.stdout.splitlines() if line.startswith("copy ")]) == 45
    assert "more" not in verbose.stdout


def test_backups_fits_80_columns_of_a_terminal_with_every_column(project: Path) -> None:
    from oppdemo.assets.backups import BackupStore
    from oppdemo.assets.engine import reverse_operations

    (project / "demo_scripts/seed.py").write_text("edited")
    assert run_cli(project, "restore", "--yes").returncode == 0
    assert run_cli(project, "undo").returncode == 0
    store = BackupStore(project, project / "backups")
    latest = store.latest()
    store.begin("undo", reverse_operations(store, latest), undoes=latest.id)  # then killed
    piped = [line.split("\t") for line in run_cli(project, "backups").stdout.splitlines()]
    result = run_cli(project, "backups", env={"TTY_COMPATIBLE": "1", "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    import re

    shown = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # bold and red, as a terminal has
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == ["id", "command", "time", "(UTC)", "files", "size", "status"]
    assert "…" not in shown
    for row in piped:
        listed = next(line for line in lines if line.startswith(row[0]))
        assert listed.split()[1] == row[1].split()[0]  # the command
        assert listed.split()[-1] == row[5]  # the status: complete, interrupted
        if " of " in row[1]:  # the backup undone: whole, on a line of its own
            assert f"of {row[1].split(' of ')[1]}" in [line.strip() for line in lines]
    assert {row[5] for row in piped} == {"complete", "interrupted"}


def test_a_destroyed_project_passes_the_gate_in_every_format(project: Path) -> None:
    assert run_cli(project, "destroy", "--yes").returncode == 0
    (project / "services/storage").mkdir()
    (project / "services/storage/app.py").write_text("my own app\n")
    text = run_cli(project, "diff")
    assert text.returncode == 0, text.stdout
    assert text.stdout.startswith("Destroyed: ") and "`oppdemo restore`" in text.stdout
    assert "demo_assets/" in text.stdout and "app.py" not in text.stdout
    github = run_cli(project, "diff", "--format", "github")
    assert github.returncode == 0
    assert github.stdout.splitlines() == [
        github.stdout.splitlines()[0],
        "oppdemo diff: destroyed",
    ]
    assert github.stdout.startswith("::notice ") and "oppdemo restore" in github.stdout
    as_json = run_cli(project, "diff", "--json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["state"] == "destroyed"
    saved = run_cli(project, "save")
    assert saved.returncode == 2 and "oppdemo restore" in saved.stderr
    _no_traceback(saved)


def test_restore_over_changes_needs_yes_without_a_terminal(project: Path) -> None:
    (project / "demo_scripts/seed.py").unlink()
    added_only = run_cli(project, "restore")
    assert added_only.returncode == 0, "bringing back a missing file never asks"
    (project / "demo_scripts/mine.py").write_text("my work\n")
    before = capture(project)
    refused = run_cli(project, "restore")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr and "demo_scripts/mine.py" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert capture(project) == before
    assert run_cli(project, "restore", "--dry-run").returncode == 0
    assert run_cli(project, "restore", "--yes").returncode == 0
    assert not (project / "demo_scripts/mine.py").exists()


def test_restore_of_a_destroyed_project_as_destroy_left_it_never_asks(project: Path) -> None:
    assert run_cli(project, "destroy", "--yes").returncode == 0
    assert run_cli(project, "diff").stdout.startswith("Destroyed: ")
    restored = run_cli(project, "restore")
    assert restored.returncode == 0, restored.stderr
    assert run_cli(project, "diff").stdout.startswith("= ")


def test_undo_of_an_older_command_over_newer_changes_needs_yes(project: Path) -> None:
    first = json.loads(run_cli(project, "backups", "--json").stdout)[0]["id"]
    assert run_cli(project, "undo", "--dry-run").returncode == 0
    (project / "demo_scripts/seed.py").write_text("print('later work')\n")
    finished = (project / "backups" / first / "complete").stat().st_mtime
    os.utime(project / "demo_scripts/seed.py", (finished + 5, finished + 5))
    assert run_cli(project, "save").returncode == 0
    before = capture(project)
    refused = run_cli(project, "undo", first)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert capture(project) == before
    assert run_cli(project, "undo", first, "--yes").returncode == 0
    assert not (project / "demo_assets").exists()


@posix_only("pseudo-terminals")
@pytest.mark.parametrize("answer", ["n", "y"])
def test_restore_on_a_terminal_lists_the_changes_and_asks(project: Path, answer: str) -> None:
    import pty  # noqa: F401  (POSIX only: the test needs a real terminal)
    import select

    (project / "demo_scripts/mine.py").write_text("my work\n")
    before = capture(project)
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "restore"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    try:
        while b"[y/N]" not in seen:
            ready, _, _ = select.select([leader], [], [], 60)
            assert ready, f"no question within a minute: {seen!r}"
            seen += os.read(leader, 4096)
        assert b"demo_scripts/mine.py" in seen
        os.write(leader, f"{answer}\n".encode())
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            assert ready, f"no end within a minute: {seen!r}"
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # Linux: the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
        code = process.wait(timeout=60)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    assert b"Traceback" not in seen
    if answer == "n":
        assert code == 1 and capture(project) == before
    else:
        assert code == 0, seen
        assert not (project / "demo_scripts/mine.py").exists()
