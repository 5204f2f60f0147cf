"""The documentation's examples are run: shell examples print what they show, Python ones pass.

Python examples run through a small harness of our own rather than pytest-examples or
mktestdocs: the blocks of a page run in order in one namespace (as a reader types them), in a
temporary project, which neither tool does without per-block setup, and it needs no new
dependency.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from scripts import doc_examples

from .projects import PROJECT_ROOT, posix_only

DOCS = PROJECT_ROOT / "docs"
needs_bash = posix_only("bash, which runs the examples")


@needs_bash
def test_every_shell_example_prints_what_it_shows(capsys: pytest.CaptureFixture[str]) -> None:
    code = doc_examples.main([])
    assert code == 0, capsys.readouterr().err


def _page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    monkeypatch.setattr(doc_examples, "DOCS", docs)
    page = docs / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


EXAMPLE = """\
# A page

<!-- run
project: fastopp-2025
-->
```console
$ oppdemo diff
M services/storage/s3.py
services/storage: 0 added, 1 modified, 0 deleted since the last save
…
$ echo $?
{code}
```
"""


@needs_bash
def test_a_changed_output_is_caught_and_update_rewrites_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page(tmp_path, monkeypatch, EXAMPLE.format(code="0"))
    runner = doc_examples.Runner(tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    result = doc_examples.run_page(page, runner, update=False)
    assert len(result.stale) == 1 and "$ echo $?" in result.stale[0]
    assert "-0" in result.stale[0] and "+1" in result.stale[0]
    updated = doc_examples.run_page(page, runner, update=True).text
    # The shown lines around `…` are kept; the stale exit code is replaced.
    assert updated == EXAMPLE.format(code="1")
    page.write_text(updated, encoding="utf-8")
    assert doc_examples.run_page(page, runner, update=False).stale == []


def test_a_console_block_that_shows_output_must_be_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page(tmp_path, monkeypatch, "```console\n$ oppdemo diff\nIn sync.\n```\n")
    assert doc_examples.unrun_blocks(page) == ["$ oppdemo diff"]
    page.write_text("```console\n$ oppdemo diff\n$ oppdemo save\n```\n", encoding="utf-8")
    assert doc_examples.unrun_blocks(page) == []


def test_what_changes_from_run_to_run_is_normalised() -> None:
    normalise = doc_examples.Normaliser(Path("/tmp/x/app"))
    line = (
        "✓ probe written   1.23 s  oppdemo-check/probe-753647dbe94b49ce8d11df9ba75a5772.txt "
        "at http://127.0.0.1:5077 in /tmp/x/app; Backup 20261127-014422-088595 "
        "2026-11-27T01:44:21+00:00   "
    )
    assert normalise(line) == (
        "✓ probe written   0.01 s  oppdemo-check/probe-0123456789abcdef0123456789abcdef.txt "
        "at http://127.0.0.1:9000 in ~/app; Backup 20261205-120000-000001 "
        "2026-12-05T12:00:00+00:00"
    )
    assert normalise("undo 20261127-014422-088595, 20261128-000000-000000") == (
        "undo 20261205-120000-000001, 20261205-120000-000002"
    )


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```\n", page.read_text(encoding="utf-8"), re.DOTALL)


def test_the_storage_python_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = _python_blocks(DOCS / "storage" / "configuration.md")
    assert len(blocks) >= 5
    shutil.copytree(PROJECT_ROOT / "services", tmp_path / "services")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("STORAGE_", "S3_", "UPLOAD_")):
            monkeypatch.delenv(name)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"configuration.md, python block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"python block {number} failed:\n{block}") from error
    assert (tmp_path / "static/uploads/photos/avatar.jpg").read_bytes().startswith(b"\xff\xd8")
    assert ".." in capsys.readouterr().out  # the unsafe key's error, printed by the example


def test_the_readme_spells_the_address_that_mkdocs_yml_holds() -> None:
    config = (PROJECT_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    address = re.search(r"^  repo_url: &repo_url (\S+)$", config, re.MULTILINE)
    assert address is not None
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    spelled = set(re.findall(r"https://github\.com/[^/\s\"]+/oppdemo", readme))
    assert spelled == {address[1]}
    assert len(readme.splitlines()) <= 200
    # The two commands a fresh machine starts with stay the README's first two.
    commands = re.findall(r"^(uv run \S+(?: \S+)*?)\s{2,}#", readme, re.MULTILINE)
    assert commands[:2] == ["uv run python oppdemo.py diff", "uv run pytest"]


@needs_bash
def test_an_error_is_never_taken_for_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that fails where the page expects success is reported, by --update too."""
    text = (
        "<!-- run\nproject: fastopp-2025\n-->\n```console\n$ oppdemo diff --no-such-option\n```\n"
    )
    page = _page(tmp_path, monkeypatch, text)
    (tmp_path / "scratch").mkdir()
    runner = doc_examples.Runner(tmp_path / "scratch")
    stale = doc_examples.run_page(page, runner, update=True).stale
    assert any("exited 2" in problem for problem in stale)
    page.write_text(text.replace("-->", "fails: oppdemo diff --no-such-option\n-->"))
    stale = doc_examples.run_page(page, runner, update=True).stale
    assert not any("exited" in problem for problem in stale)
