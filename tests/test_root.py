"""The project root is found from a subfolder, as git finds its work tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from oppdemo.assets.root import find_root

from .projects import PROJECT_ROOT, make_project


def test_the_nearest_folder_with_a_table_is_the_root(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    inner = project / "services" / "storage"
    assert find_root(inner) == project
    assert find_root(project) == project
    # A pyproject.toml without the table (a sub-package, say) does not stop the walk.
    (project / "services/pyproject.toml").write_text('[project]\nname = "sub"\n')
    assert find_root(inner) == project


def test_without_a_table_the_nearest_pyproject_is_the_root(tmp_path: Path) -> None:
    (tmp_path / "app/sub").mkdir(parents=True)
    (tmp_path / "app/pyproject.toml").write_text('[project]\nname = "app"\n')
    assert find_root(tmp_path / "app/sub") == tmp_path / "app"
    assert find_root(tmp_path) == tmp_path, "nothing above: the folder itself"


def test_commands_run_from_a_subfolder(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app")
    oppdemo = [sys.executable, str(PROJECT_ROOT / "oppdemo.py")]

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*oppdemo, *arguments],
            cwd=project / "demo_scripts" / "data",
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    assert run("save").returncode == 0
    assert (project / "demo_assets/scripts/seed.py").is_file()
    assert not (project / "demo_scripts/data/demo_assets").exists()
    for arguments in (("diff",), ("diff", "--json"), ("-C", ".", "diff")):
        result = run(*arguments)
        assert result.returncode == 0, (arguments, result.stderr)
    (project / "demo_scripts/seed.py").write_text("edited\n")
    assert run("diff").returncode == 1
