"""The documentation site (mkdocs.yml, docs/): built strictly, and readable from disk."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .projects import PROJECT_ROOT

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="MkDocs is in the docs group: `uv sync --group docs` (as .ci/run does)",
)
_SHOTS = os.environ.get("OPPDEMO_SCREENSHOTS")


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    built = _build(PROJECT_ROOT, site)
    assert built.returncode == 0, built.stderr
    return site


def _copy_docs(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "docs", project / "docs")
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", project)
    return project


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda docs: (docs / "orphan.md").write_text("# Not in nav\n"), "orphan.md"),
        (
            lambda docs: (docs / "commands.md").open("a").write("\n[gone](no-such-page.md)\n"),
            "no-such-page.md",
        ),
        (
            lambda docs: (docs / "commands.md").open("a").write("\n[gone](manifest.md#nowhere)\n"),
            "nowhere",
        ),
    ],
    ids=["page-missing-from-nav", "broken-link", "broken-anchor"],
)
def test_strict_build_fails_on_a_page_out_of_nav_or_a_broken_link(
    tmp_path: Path, change: Any, complaint: str
) -> None:
    project = _copy_docs(tmp_path)
    change(project / "docs")
    built = _build(project, tmp_path / "site")
    assert built.returncode != 0
    assert complaint in built.stderr


def test_the_repository_address_is_filled_in(site: Path) -> None:
    page = (site / "adopting.html").read_text(encoding="utf-8")
    assert "{{ repo_url }}" not in page
    assert "git+https://github.com/OWNER/oppdemo" in page


def test_pages_open_from_disk_in_a_real_browser(chromium: Any, site: Path) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    # Offline means offline: any request off the disk is refused, and counted.
    outside: list[str] = []
    page.route(
        re.compile(r"^(?!file:)"), lambda route: (outside.append(route.request.url), route.abort())
    )
    try:
        page.goto((site / "index.html").as_uri())
        assert page.locator("h1").first.inner_text().startswith("oppdemo")
        image = page.locator("img[alt^='The upload demo']")
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        if _SHOTS:
            page.screenshot(path=str(Path(_SHOTS) / "site-front-page.png"))
        # Navigation works between files: no server, no directory URLs.
        page.locator("a[href='adopting.html']").first.click()
        page.wait_for_load_state()
        assert page.url.endswith("/adopting.html")
        assert "Adopting oppdemo" in page.locator("h1").first.inner_text()
        assert page.locator("text=uv run oppdemo init").count() >= 1
        page.goto((site / "reference" / "cli.html").as_uri())
        assert page.locator("h2", has_text="oppdemo diff").count() == 1
        page.goto((site / "storage" / "migrate.html").as_uri())
        assert page.locator("code", has_text="Migrated: 3 copied").count() >= 1
        # Search works from disk too (Material's offline plugin inlines the index).
        page.keyboard.press("/")
        page.keyboard.type("presigned")
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=10_000)
        assert results.count() >= 1
        assert outside == []
    finally:
        page.close()
