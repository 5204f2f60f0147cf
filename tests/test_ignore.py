"""What counts as no demo code: .gitignore files read as git reads them, and data folders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from oppdemo.assets.ignore import AssetRules, DataFolder, GitIgnores, ignore_rules

from .projects import FASTOPP_GITIGNORE, write_tree

# Paths (True for a folder) whose parents git does not ignore: the scan never asks about
# anything deeper.
PATHS = {
    "static/uploads/sample_photos": True,
    "static/uploads/photos": True,
    "static/uploads/.gitkeep": False,
    "static/uploads/notes.txt": False,
    "static/uploads": True,
    "dependencies/.env.local": False,
    "blog/.env.production.local": False,
    "example.env": False,
    "main.py.20250808_144836": False,
    "routes/main.py.20250808_144836": False,
    "test.db": False,
    "test.db.20250808": False,
    "blog/_site": True,
    "blog/assets/.sass-cache": True,
    "alembic/versions/0001_init.py": False,
    "alembic/versions/.gitkeep": False,
    "logs": True,
    "routes/logs.py": False,
    # A nested .gitignore: its own patterns, relative to its folder, override the root's.
    "blog/drafts": True,
    "blog/notes.log": False,
    "blog/keep.log": False,
    "blog/out": True,
    "blog/_posts/out": True,
    "blog/_posts/x.log": False,
    "blog/_posts/keep.log": False,
}
NESTED = "*.log\n!keep.log\n/out/\ndrafts/\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="compares with git, which is missing")
def test_gitignore_files_mean_what_git_says_they_mean(tmp_path: Path) -> None:
    write_tree(tmp_path, {".gitignore": FASTOPP_GITIGNORE, "blog/.gitignore": NESTED})
    for path, is_dir in PATHS.items():
        (tmp_path / path).mkdir(parents=True, exist_ok=True) if is_dir else write_tree(
            tmp_path, {path: "x\n"}
        )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    listed = subprocess.run(
        ["git", "check-ignore", "--no-index", *PATHS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout.split()
    by_git = {path: path in listed for path in PATHS}
    gitignores = GitIgnores(tmp_path)
    ours = {path: gitignores.ignored(path, is_dir) for path, is_dir in PATHS.items()}
    assert ours == by_git
    # The cases that a pattern matcher gets wrong when it ignores git's rules.
    assert ours["static/uploads/sample_photos"], "a '!dir/**' does not re-include dir itself"
    assert not ours["static/uploads/.gitkeep"], "a '!' pattern re-includes a file"
    assert not ours["routes/main.py.20250808_144836"], "'/main.py.*' is anchored"
    assert ours["blog/out"] and not ours["blog/_posts/out"], "'/out/' is anchored there"
    assert ours["blog/_posts/x.log"] and not ours["blog/_posts/keep.log"], "nested negation"


def test_info_exclude_counts_and_a_project_without_gitignore_ignores_nothing(
    tmp_path: Path,
) -> None:
    assert not GitIgnores(tmp_path).ignored("node_modules", True)
    write_tree(tmp_path, {".git/info/exclude": "secret.txt\n"})
    assert GitIgnores(tmp_path).ignored("a/secret.txt", False)


def test_data_folders_hide_users_files_and_show_their_demo_entries() -> None:
    uploads = DataFolder("static/uploads", ("sample_photos", ".gitkeep"))
    assert uploads.hides("static/uploads/photos/a.jpg") is True
    assert uploads.hides("static/uploads/.gitkeep") is False
    assert uploads.hides("static/uploads/sample_photos/a.jpg") is False
    assert uploads.hides("static/uploads") is None
    assert uploads.hides("static/uploadsx/a.jpg") is None


def test_demo_entries_win_over_gitignore_but_not_over_the_built_in_ignores(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path, {".gitignore": FASTOPP_GITIGNORE})
    rules = AssetRules(
        "static",
        ignore_rules(),
        (DataFolder("static/uploads", ("sample_photos", ".gitkeep")),),
        GitIgnores(tmp_path),
    )
    assert not rules.matches("sample_photos", "uploads/sample_photos", True)
    assert not rules.matches("a.jpg", "uploads/sample_photos/a.jpg", False)
    assert rules.matches(".DS_Store", "uploads/sample_photos/.DS_Store", False)
    assert rules.matches("photos", "uploads/photos", True)
    assert not rules.matches("css", "css", True)


@pytest.mark.parametrize(
    "cache", [".mypy_cache", ".ruff_cache", "node_modules", "_site", ".venv", "__pycache__"]
)
def test_the_usual_caches_are_built_in(cache: str) -> None:
    assert ignore_rules().matches(cache, f"a/{cache}", True)


def test_lines_git_cannot_use_match_nothing_and_spoil_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, {".gitignore": "!\n\\\n[z-a]\nx[\n*.log\n", "a/.gitignore": b"\xff\n"})
    gitignores = GitIgnores(tmp_path)
    assert gitignores.ignored("a/run.log", False)
    assert not gitignores.ignored("a/z", False)
    assert gitignores.ignored("a/\udcff", False), "a name that is not UTF-8, byte for byte"


@pytest.mark.skipif(shutil.which("git") is None, reason="compares with git, which is missing")
def test_a_project_in_a_subfolder_of_a_repository_gets_the_repositorys_patterns(
    tmp_path: Path,
) -> None:
    paths = {
        "test.db": False,
        "keep.db": False,
        "local": True,
        "sub/local": True,
        "secret.txt": False,
        "app.py": False,
    }
    project = tmp_path / "apps" / "fastopp"
    write_tree(tmp_path, {".gitignore": "*.db\n/apps/fastopp/local/\n", "apps/.gitignore": "x\n"})
    write_tree(project, {".gitignore": "!keep.db\n"})
    for path, is_dir in paths.items():
        (project / path).mkdir(parents=True) if is_dir else write_tree(project, {path: "x"})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".git/info").mkdir(exist_ok=True)
    (tmp_path / ".git/info/exclude").write_text("secret.txt\n")
    listed = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths],
        cwd=project,
        capture_output=True,
        text=True,
    ).stdout.split()
    gitignores = GitIgnores(project)
    ours = {path: gitignores.ignored(path, is_dir) for path, is_dir in paths.items()}
    assert ours == {path: path in listed for path in paths}
    assert ours["test.db"] and not ours["keep.db"] and ours["local"] and not ours["sub/local"]
    assert ours["secret.txt"] and not ours["app.py"]
