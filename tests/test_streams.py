"""Output cut short (`oppdemo diff | head -1`, a closed pipe): no traceback, the command's own
exit code, in every format, through the lean `diff` path and the full command line alike."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from .projects import PROJECT_ROOT, make_project, run_cli

OPPDEMO = str(PROJECT_ROOT / "oppdemo.py")
# `head -1`, in Python so that it runs wherever the suite does: it reads one buffer, writes
# the first line and exits, closing its end of the pipe while oppdemo may still be writing.
HEAD = "import sys; sys.stdout.write(sys.stdin.readline())"
FORMATS = [(), ("--format", "github"), ("--format", "text"), ("--json",)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "app")
    assert run_cli(project, "save").returncode == 0
    return project


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", **extra}


def _pipeline(project: Path, *arguments: str) -> tuple[int, str, str]:
    """`oppdemo -C project ARGUMENTS | head -1`: oppdemo's exit code and stderr, head's output."""
    oppdemo = subprocess.Popen(
        [sys.executable, OPPDEMO, "-C", str(project), *arguments],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert oppdemo.stdout is not None and oppdemo.stderr is not None
    head = subprocess.run(
        [sys.executable, "-c", HEAD], stdin=oppdemo.stdout, capture_output=True, timeout=60
    )
    oppdemo.stdout.close()  # head holds the only reader now: when it exits, the pipe closes
    errors = oppdemo.stderr.read().decode()
    oppdemo.stderr.close()
    return oppdemo.wait(timeout=60), errors, head.stdout.decode()


@contextmanager
def _reader_gone() -> Iterator[int]:
    """The write end of a pipe whose reader has already gone: the first write fails."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        yield writer
    finally:
        os.close(writer)


def _into_closed_pipe(project: Path, *arguments: str, **env: str) -> tuple[int, str]:
    with _reader_gone() as writer:
        result = subprocess.run(
            [sys.executable, OPPDEMO, "-C", str(project), *arguments],
            stdin=subprocess.DEVNULL,
            stdout=writer,
            stderr=subprocess.PIPE,
            env=_env(**env),
            timeout=60,
        )
    return result.returncode, result.stderr.decode()


@pytest.mark.parametrize("output_format", FORMATS)
def test_an_in_sync_diff_into_a_closed_pipe_exits_0_without_a_word(
    project: Path, output_format: tuple[str, ...]
) -> None:
    code, errors = _into_closed_pipe(project, "diff", *output_format)
    assert (code, errors) == (0, "")


def test_an_in_sync_diff_through_head_exits_0_in_100_runs_of_100(project: Path) -> None:
    runs = [FORMATS[index % len(FORMATS)] for index in range(100)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda fmt: _pipeline(project, "diff", *fmt), runs))
    assert [result[:2] for result in results] == [(0, "")] * 100
    assert results[0][2].startswith("= services/storage: in sync")


def test_a_long_drift_through_head_exits_1_without_a_traceback(project: Path) -> None:
    # More than a pipe holds (64 KiB on Linux): oppdemo is still writing when head leaves.
    for index in range(400):
        (project / "demo_scripts" / f"{'x' * 200}-{index:03}.py").write_text("")
    for output_format in FORMATS * 5:
        code, errors, first = _pipeline(project, "diff", *output_format)
        assert (code, errors) == (1, ""), output_format
        assert first.strip()


@pytest.mark.parametrize("terminal", ["0", "1"])
def test_every_command_into_a_closed_pipe_finishes_and_keeps_its_exit_code(
    project: Path, terminal: str
) -> None:
    """Rich output (TTY_COMPATIBLE=1 makes rich render as on a terminal) and plain alike: a
    changing command still changes, and says nothing once its reader has gone."""
    (project / "demo_scripts/seed.py").write_text("print('edited')\n")
    env = {"TTY_COMPATIBLE": terminal}
    assert _into_closed_pipe(project, "diff", "--patch", **env) == (1, "")
    assert _into_closed_pipe(project, "save", **env) == (0, "")
    assert run_cli(project, "diff").returncode == 0
    assert _into_closed_pipe(project, "backups", **env) == (0, "")
    assert _into_closed_pipe(project, "--help", **env) == (0, "")
    code, errors = _into_closed_pipe(project, "undo", "no-such-backup", **env)
    assert code == 2 and "Traceback" not in errors and "Error:" in errors


def test_storage_output_into_a_closed_pipe_exits_0_without_a_word(
    storage_project: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 400)
    assert run_cli(storage_project, "storage", "put", str(photo), "a.jpg").returncode == 0
    assert _into_closed_pipe(storage_project, "storage", "ls", "--long") == (0, "")
    assert _into_closed_pipe(storage_project, "storage", "get", "a.jpg", "-") == (0, "")
    assert _into_closed_pipe(storage_project, "storage", "check") == (0, "")
