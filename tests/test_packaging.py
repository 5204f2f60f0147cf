"""oppdemo as a tool other projects install: the wheel, its console script, the pre-commit hook
and the GitHub Action, each run the way its user's machinery runs it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .projects import PROJECT_ROOT, make_fastopp_2025, posix_only, start_paused

BIN = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH: the packaging tests build and install with it")
    return uv


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv build --wheel` of this checkout (hatchling comes from the package registry)."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [_uv(), "build", "--wheel", "--out-dir", str(out), str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("oppdemo-*.whl")
    return found


@pytest.fixture(scope="session")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with nothing but the wheel (and its dependencies)."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(folder)], check=True)
    python = folder / BIN / f"python{EXE}"
    installed = subprocess.run(
        [_uv(), "pip", "install", "--quiet", "--python", str(python), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    return folder


def _oppdemo(
    venv: Path, *arguments: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / BIN / f"oppdemo{EXE}"), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_the_wheel_holds_the_tool_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert "oppdemo" in tops
    assert not tops & {"services", "demo_app", "demo_scripts", "tests", "demo_assets", "benchmarks"}
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "oppdemo = oppdemo.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_console_script_diffs_a_fastopp_checkout(venv: Path, tmp_path: Path) -> None:
    from oppdemo import __version__

    version = _oppdemo(venv, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"oppdemo {__version__}"
    project = make_fastopp_2025(tmp_path / "fastopp")
    drift = _oppdemo(venv, "-C", str(project), "diff")
    assert drift.returncode == 1, drift.stderr
    for name in ("services/storage/s3.py", "add_sample_webinars.py", "add_test_users.py"):
        assert name in drift.stdout
    assert _oppdemo(venv, "-C", str(project), "save").returncode == 0
    assert _oppdemo(venv, "-C", str(project), "diff").returncode == 0


def test_a_tool_only_install_names_the_missing_package(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    shutil.copytree(PROJECT_ROOT / "services", project / "services")
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    env = "STORAGE_TYPE=s3\nS3_ACCESS_KEY=a\nS3_SECRET_KEY=b\nS3_BUCKET=c\n"
    (project / ".env").write_text(env)
    result = _oppdemo(venv, "-C", str(project), "storage", "ls")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'botocore'" in result.stderr or "'boto3'" in result.stderr
    assert "uv run oppdemo" in result.stderr and "oppdemo[s3]" in result.stderr
    doctor = _oppdemo(venv, "-C", str(project), "storage", "check")
    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr
    assert "oppdemo[s3]" in doctor.stdout
    (project / ".env").write_text("STORAGE_TYPE=filesystem\n")
    check = _oppdemo(venv, "-C", str(project), "storage", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "probe read back" in check.stdout


def _hook() -> dict[str, object]:
    import yaml  # moto's dependency

    hooks = yaml.safe_load((PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [hook for hook in hooks if hook["id"] == "oppdemo-diff"]
    assert hook["pass_filenames"] is False
    return dict(hook)


@pytest.fixture
def git_project(tmp_path: Path) -> Iterator[Path]:
    """A throwaway git repository of a FastOpp-shaped project, drifted from its snapshot."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = make_fastopp_2025(tmp_path / "fastopp")
    for command in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *command], cwd=project, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "start"],
        cwd=project,
        check=True,
    )
    yield project


def test_the_pre_commit_hook_as_pre_commit_runs_it(venv: Path, git_project: Path) -> None:
    hook = _hook()
    entry = str(hook["entry"]).split() + list(hook.get("args", []))  # type: ignore[call-overload]
    assert entry[0] == "oppdemo"
    command = [str(venv / BIN / f"oppdemo{EXE}"), *entry[1:]]
    drift = subprocess.run(command, cwd=git_project, capture_output=True, text=True, timeout=60)
    assert drift.returncode == 1
    assert "services/storage/s3.py" in drift.stdout
    assert _oppdemo(venv, "save", cwd=git_project).returncode == 0
    clean = subprocess.run(command, cwd=git_project, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stdout


def test_pre_commit_try_repo(venv: Path, git_project: Path) -> None:
    python = venv / BIN / f"python{EXE}"
    got = subprocess.run(
        [_uv(), "pip", "install", "--quiet", "--python", str(python), "pre-commit"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if got.returncode != 0:
        pytest.skip(f"pre-commit could not be installed from the package registry: {got.stderr}")
    result = subprocess.run(
        [str(venv / BIN / f"pre-commit{EXE}"), "try-repo", str(PROJECT_ROOT), "oppdemo-diff",
         "--all-files"],
        cwd=git_project, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PRE_COMMIT_HOME": str(git_project.parent / "pre-commit-home")},
    )  # fmt: skip
    if "Failed to build" in result.stdout + result.stderr and "network" in result.stdout.lower():
        pytest.skip("pre-commit could not build oppdemo: the package registry is unreachable")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "oppdemo diff" in result.stdout and "Failed" in result.stdout
    assert "services/storage/s3.py" in result.stdout


def _action_steps() -> list[dict[str, str]]:
    import yaml

    action = yaml.safe_load((PROJECT_ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    return list(action["runs"]["steps"])


@posix_only("the Action's bash steps")
def test_the_github_action_steps_as_the_runner_runs_them(tmp_path: Path) -> None:
    project = make_fastopp_2025(tmp_path / "repo" / "app")
    env = {
        **os.environ,
        "GITHUB_ACTION_PATH": str(PROJECT_ROOT),
        "GITHUB_WORKSPACE": str(tmp_path / "repo"),
        "INPUT_PROJECT": "app",
        "INPUT_VERSION": "",
    }

    def run_steps() -> subprocess.CompletedProcess[str]:
        result = None
        for step in _action_steps():
            result = subprocess.run(
                ["bash", "-e", "-c", step["run"]],
                cwd=tmp_path / "repo",
                env={**env, **{k: v for k, v in step.get("env", {}).items() if "${{" not in v}},
                capture_output=True,
                text=True,
                timeout=600,
            )
            if result.returncode != 0:
                return result
        assert result is not None
        return result

    drifted = run_steps()
    assert drifted.returncode == 1, drifted.stderr
    assert "::error file=services/storage/s3.py" in drifted.stdout or "::" in drifted.stdout
    assert "services/storage/s3.py" in drifted.stdout
    subprocess.run([sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "save"],
                   check=True, capture_output=True)  # fmt: skip
    assert run_steps().returncode == 0


@posix_only("SIGINT sent to another process")
@pytest.mark.parametrize("point", ["import@1", "start@1"])
def test_ctrl_c_while_starting_is_one_sentence_and_130(tmp_path: Path, point: str) -> None:
    project = make_fastopp_2025(tmp_path / "fastopp")
    # Paused while the program loads (before its Ctrl-C handler is set) and once it is set:
    # however quick the machine, the signal lands there.
    ended = start_paused(project, point, "diff").finish(signal.SIGINT)
    assert ended.returncode == 130, ended.stderr
    assert ended.stderr.strip() == "Interrupted before anything was changed.", ended.stderr


def test_uv_tool_install_from_the_checkout(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "UV_TOOL_DIR": str(tmp_path / "tools"),
        "UV_TOOL_BIN_DIR": str(tmp_path / "bin"),
    }
    installed = subprocess.run(
        [_uv(), "tool", "install", "--quiet", str(PROJECT_ROOT)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    project = make_fastopp_2025(tmp_path / "fastopp")
    oppdemo = tmp_path / "bin" / f"oppdemo{EXE}"
    drift = subprocess.run([str(oppdemo), "-C", str(project), "diff"], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert drift.returncode == 1 and "services/storage/s3.py" in drift.stdout
