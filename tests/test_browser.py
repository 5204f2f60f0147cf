"""The upload demo in a real headless Chromium: upload a photo, see it load, delete it."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from .conftest import free_port, make_bucket_public
from .projects import PROJECT_ROOT, make_demo_project

# Set to keep the gallery's screenshots there (the README's picture comes from this test).
_SHOTS = os.environ.get("OPPDEMO_SCREENSHOTS")
SCREENSHOTS = Path(_SHOTS) if _SHOTS else None
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    """Debian's chromium (what .ci/run installs), or None for Playwright's own browser."""
    candidates = (os.environ.get("OPPDEMO_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=_chromium(), headless=True, args=CHROMIUM_FLAGS
            )
        except Error as error:
            pytest.skip(
                "no Chromium to drive: install Debian's chromium (as .ci/run does) or run "
                f"`playwright install chromium` ({str(error).splitlines()[0]})"
            )
        yield browser
        browser.close()


def _jpeg(path: Path, colour: str) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), colour).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """Start `oppdemo.py serve` on a free port; stop it after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(project: Path, env: dict[str, str]) -> str:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
             "--port", str(port)],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                assert process.poll() is None, "serve exited"
                time.sleep(0.1)
        raise AssertionError("serve did not start")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_upload_show_and_delete_a_photo_in_a_real_browser(
    browser: object, serve: object, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    project = make_demo_project(tmp_path)
    env: dict[str, str] = {}
    if backend == "s3":
        env = request.getfixturevalue("s3_env")
        make_bucket_public(env)
    origin = serve(project, env)  # type: ignore[operator]
    photo = _jpeg(tmp_path / "holiday.jpg", "orange")
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(origin)
        assert backend in page.locator("#backend").inner_text()
        page.set_input_files("input[type=file]", str(photo))
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "Saved: holiday.jpg" in page.locator("#saved").inner_text()
        image = page.locator("figure img[alt^='uploads/']")
        assert image.count() == 1
        image.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0",
            arg=image.element_handle(),
            timeout=10_000,
        )
        assert image.evaluate("img => img.naturalWidth") == 120
        if SCREENSHOTS is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"upload-demo-{backend}.png"), full_page=True)
        else:
            page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
            assert (tmp_path / "gallery.png").stat().st_size > 1000
        page.click("button.delete")
        page.wait_for_selector("figure img[alt^='uploads/']", state="detached", timeout=10_000)
        page.reload()
        assert page.locator("figure img[alt^='uploads/']").count() == 0
    finally:
        page.close()


def test_serve_runs_the_minimal_app_after_destroy(
    browser: object, serve: object, tmp_path: Path
) -> None:
    from .projects import run_cli

    project = make_demo_project(tmp_path)
    assert run_cli(project, "save").returncode == 0
    assert run_cli(project, "destroy", "--yes").returncode == 0
    origin = serve(project, {})  # type: ignore[operator]
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(origin)
        assert "The upload demo was removed" in page.locator("h1").inner_text()
        assert "oppdemo.py restore" in page.content()
    finally:
        page.close()
