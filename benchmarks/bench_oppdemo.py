"""Benchmark oppdemo against the standard tools on the same generated trees, in one run.

    uv run python benchmarks/bench_oppdemo.py [--quick]

Prints each measurement (median wall time of several runs), the ratio to the standard tool
and the target from issue 3. Trees are generated under a temporary folder and removed after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPPDEMO = ROOT / "oppdemo.py"
# Subprocesses may write bytecode caches, as on a normal machine, so repeated runs start warm.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PYPROJECT = """\
[project]
name = "bench"
version = "0"

[[tool.oppdemo.assets]]
path = "demo_scripts"
saved = "scripts"
"""


def run(*command: str | Path) -> int:
    return subprocess.run(
        [str(part) for part in command], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ).returncode


def oppdemo(project: Path, *arguments: str) -> int:
    return run(sys.executable, OPPDEMO, "-C", project, *arguments)


def median_time(
    action: Callable[[], object], repeats: int, before: Callable[[], object] = lambda: None
) -> float:
    times = []
    for _ in range(repeats):
        before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def make_tree(folder: Path, files: int, size: int, per_folder: int = 100) -> list[Path]:
    paths = []
    block = os.urandom(size)
    for index in range(files):
        path = folder / f"d{index // per_folder:04d}" / f"f{index:06d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        # Each file differs from the others in its first bytes.
        path.write_bytes(index.to_bytes(8, "little") + block[8:])
        paths.append(path)
    return paths


def modify_same_size(paths: list[Path], fraction: float) -> None:
    step = max(1, round(1 / fraction))
    for path in paths[::step]:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


def project_with(
    folder: Path, files: int, size: int, per_folder: int = 100
) -> tuple[Path, list[Path]]:
    """A project whose demo_scripts/ holds `files` files and whose snapshot is a `cp -a` copy."""
    project = folder / "project"
    (project / "demo_assets").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    paths = make_tree(project / "demo_scripts", files, size, per_folder)
    subprocess.run(
        ["cp", "-a", project / "demo_scripts", project / "demo_assets/scripts"], check=True
    )
    return project, paths


def time_diffs(project: Path, repeats: int) -> tuple[float, float]:
    """Median times of `oppdemo diff` and `diff -rq` on the project's two trees, after a warm-up."""
    work, snap = project / "demo_scripts", project / "demo_assets/scripts"
    oppdemo(project, "diff")
    run("diff", "-rq", work, snap)
    ours = median_time(lambda: oppdemo(project, "diff"), repeats)
    theirs = median_time(lambda: run("diff", "-rq", work, snap), repeats)
    return ours, theirs


def report(name: str, ours: float, theirs: float, tool: str, target: float) -> bool:
    ratio = ours / theirs
    verdict = "ok" if ratio <= target else "MISSED"
    figures = f"oppdemo {ours:7.3f} s  {tool} {theirs:7.3f} s  ratio {ratio:5.2f}"
    print(f"{name:<50} {figures}  target <= {target}  {verdict}")
    return ratio <= target


def bench_diff_many_files(base: Path, repeats: int, files: int) -> list[bool]:
    project, paths = project_with(base, files, 100 * 1024 * 1024 // 10_000)
    modify_same_size(paths, 0.01)
    ours, theirs = time_diffs(project, repeats)
    results = [
        report(
            f"diff, {files} files / {files // 100} MB, 1% modified", ours, theirs, "diff -rq", 2.0
        )
    ]

    # The same diff with FastOpp's .gitignore, whose patterns every entry is matched against.
    shutil.copy(ROOT / "tests" / "fixtures" / "fastopp.gitignore", project / ".gitignore")
    oppdemo(project, "diff")
    ignoring = median_time(lambda: oppdemo(project, "diff"), repeats)
    (project / ".gitignore").unlink()
    results.append(
        report(f"diff, {files} files, FastOpp's .gitignore", ignoring, ours, "without", 1.2)
    )

    # save with nothing to do, against diff on the same in-sync tree.
    assert oppdemo(project, "save") == 0
    shutil.rmtree(project / "backups", ignore_errors=True)
    in_sync_diff = median_time(lambda: oppdemo(project, "diff"), repeats)
    idle_save = median_time(lambda: oppdemo(project, "save"), repeats)
    results.append(report("save, nothing changed", idle_save, in_sync_diff, "diff   ", 1.2))

    # A full save of a new tree, against cp -a of the same tree, the two taking turns: with
    # the disk synced before each run (both may wait on writeback), with the page cache warm
    # and dirty, and on a memory filesystem (/dev/shm), where creating files is all that costs.
    results += full_save_against_cp(project, base, repeats, "synced disk", sync=True)
    results += full_save_against_cp(project, base, repeats, "warm cache", sync=False)
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 1024**3:
        with tempfile.TemporaryDirectory(prefix="oppdemo-bench-", dir=shm) as folder:
            memory_project, _ = project_with(Path(folder), files, 100 * 1024 * 1024 // 10_000)
            results += full_save_against_cp(
                memory_project, Path(folder), repeats, "tmpfs", sync=False
            )
    shutil.rmtree(project)
    return results


def full_save_against_cp(
    project: Path, base: Path, repeats: int, label: str, sync: bool
) -> list[bool]:
    work, snap, copy = project / "demo_scripts", project / "demo_assets/scripts", base / "cp-copy"

    def clear() -> None:
        shutil.rmtree(snap, ignore_errors=True)
        shutil.rmtree(project / "backups", ignore_errors=True)
        shutil.rmtree(copy, ignore_errors=True)
        if sync:
            subprocess.run(["sync"], check=True)

    ours, theirs = [], []
    for _ in range(repeats):
        for times, action in (
            (ours, lambda: oppdemo(project, "save")),
            (theirs, lambda: run("cp", "-a", work, copy)),
        ):
            clear()
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
    assert oppdemo(project, "save") == 0 and oppdemo(project, "diff") == 0, "the save is whole"
    assert sum(1 for _ in snap.rglob("*.bin")) == sum(1 for _ in work.rglob("*.bin"))
    name = f"save, full copy of a new tree, {label}"
    return [report(name, statistics.median(ours), statistics.median(theirs), "cp -a  ", 1.5)]


def bench_diff_large_files(base: Path, repeats: int) -> list[bool]:
    project, paths = project_with(base / "large", 20, 50 * 1024 * 1024, per_folder=20)
    modify_same_size(paths, 0.05)
    ours, theirs = time_diffs(project, repeats)
    shutil.rmtree(project)
    return [report("diff, 20 files of 50 MB, 1 modified", ours, theirs, "diff -rq", 1.3)]


def bench_startup(repeats: int) -> list[bool]:
    run(sys.executable, OPPDEMO, "--help")
    median = median_time(lambda: run(sys.executable, OPPDEMO, "--help"), repeats * 4)
    ok = median < 0.25
    name = "python oppdemo.py --help"
    print(f"{name:<44} median {median * 1000:6.1f} ms  target < 250 ms  {_verdict(ok)}")
    return [ok]


FASTOPP_PYPROJECT = """\
[project]
name = "fastopp-like"
version = "0"

[tool.oppdemo]
[[tool.oppdemo.assets]]
path = "blog"
[[tool.oppdemo.assets]]
path = "routes"
[[tool.oppdemo.assets]]
path = "templates"
[[tool.oppdemo.assets]]
path = "main.py"
"""


def bench_precommit_diff(base: Path, repeats: int) -> list[bool]:
    """What a pre-commit hook costs on every commit: `oppdemo diff`, piped, on an in-sync
    FastOpp-sized checkout (90 snapshot files), against `python -c "import typer"`."""
    project = base / "fastopp-like"
    for index in range(89):
        folder = ("blog/_posts", "routes", "templates")[index % 3]
        path = project / folder / f"file{index:02d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"line {index}\n" * 20)
    (project / "main.py").write_text("app = None\n")
    (project / "pyproject.toml").write_text(FASTOPP_PYPROJECT)
    assert oppdemo(project, "save") == 0 and oppdemo(project, "diff") == 0
    ours = median_time(lambda: oppdemo(project, "diff"), repeats * 4)
    typer = median_time(lambda: run(sys.executable, "-c", "import typer"), repeats * 4)
    return [report("pre-commit: diff piped, 90 files in sync", ours, typer, "import typer", 1.3)]


def bench_ignored_folders(base: Path, repeats: int, files: int) -> list[bool]:
    """`diff` on the pre-commit checkout with FastOpp's .gitignore and a `node_modules/` of
    `files` files inside an asset, against the same checkout without the node_modules: an
    ignored folder is never looked into, so it must cost next to nothing."""
    plain = base / "fastopp-like-gitignore"
    shutil.copytree(base / "fastopp-like", plain, symlinks=True)
    shutil.copy(ROOT / "tests" / "fixtures" / "fastopp.gitignore", plain / ".gitignore")
    ignoring = base / "fastopp-like-node-modules"
    shutil.copytree(plain, ignoring, symlinks=True)
    make_tree(ignoring / "templates" / "node_modules", files, 64)
    assert oppdemo(ignoring, "diff") == 0 and oppdemo(plain, "diff") == 0
    ours = median_time(lambda: oppdemo(ignoring, "diff"), repeats * 4)
    theirs = median_time(lambda: oppdemo(plain, "diff"), repeats * 4)
    name = f"diff, node_modules of {files} files ignored"
    return [report(name, ours, theirs, "without", 1.2)]


def bench_no_boto3(base: Path) -> list[bool]:
    project, _ = project_with(base / "imports", 20, 1000)
    leaked = []
    for arguments in (
        ["diff"],
        ["save"],
        ["restore"],
        ["backups"],
        ["destroy", "--yes", "--force"],
        ["undo"],
    ):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", OPPDEMO, "-C", project, *arguments],
            env=ENV,
            capture_output=True,
            text=True,
        )
        if "boto3" in result.stderr or "botocore" in result.stderr:
            leaked.append(arguments[0])
    ok = not leaked
    found = "never" if ok else "by " + ", ".join(leaked)
    print(f"{'boto3 imported by save/restore/destroy/...':<44} {found}  {_verdict(ok)}")
    return [ok]


def bench_memory(base: Path, files: int) -> list[bool]:
    project, _ = project_with(base / "memory", files, 512)
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, OPPDEMO, "-C", project, "diff"],
        env=ENV,
        capture_output=True,
        text=True,
    )
    peak_mb = int(result.stderr.strip().splitlines()[-1]) / 1024
    ok = peak_mb < 100
    name = f"peak memory, diff of {files} files"
    print(f"{name:<44} {peak_mb:6.1f} MB  target < 100 MB  {_verdict(ok)}")
    return [ok]


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Smaller trees, fewer runs.")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    repeats = 3 if options.quick else options.repeats
    results: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="oppdemo-bench-") as folder:
        base = Path(folder)
        results += bench_startup(repeats)
        results += bench_precommit_diff(base, repeats)
        results += bench_ignored_folders(base, repeats, 2_000 if options.quick else 20_000)
        results += bench_no_boto3(base)
        results += bench_diff_many_files(base, repeats, 2_000 if options.quick else 10_000)
        if not options.quick:
            results += bench_diff_large_files(base, repeats)
        results += bench_memory(base, 5_000 if options.quick else 50_000)
    print(f"{sum(results)} of {len(results)} targets met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
