"""The upload demo in a real headless Chromium: upload a photo, see it load, delete it."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .conftest import free_port, make_bucket_public
from .projects import PROJECT_ROOT, make_demo_project

# Set to keep the gallery's screenshots there (the README's picture comes from this test).
_SHOTS = os.environ.get("OPPDEMO_SCREENSHOTS")
SCREENSHOTS = Path(_SHOTS) if _SHOTS else None


@pytest.fixture
def browser(chromium: Any) -> Any:
    """The suite's headless Chromium (see conftest.py)."""
    return chromium


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
        # What serve prints (the sign-in link among it), for `_sign_in_link`.
        log = (tmp_path / f"serve-{port}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
             "--port", str(port)],
            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
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


def _sign_in_link(tmp_path: Path, origin: str) -> str:
    """The one-time sign-in link the server at `origin` printed when it started."""
    import re

    port = origin.rpartition(":")[2]
    printed = (tmp_path / f"serve-{port}.log").read_text()
    (link,) = re.findall(r"http://\S+/signin\?token=\S+", printed)
    return link


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
        assert page.locator("input[type=file]").count() == 0, "a local browser is no one special"
        # The link serve printed: the one click that signs the local developer in.
        page.goto(_sign_in_link(tmp_path, origin))
        assert page.url.rstrip("/") == origin
        assert backend in page.locator("#backend").inner_text()
        page.set_input_files("input[type=file]", str(photo))
        with page.expect_navigation():
            page.click("form.upload button[type=submit]")
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
        other = browser.new_page()  # type: ignore[attr-defined]
        other.goto(_sign_in_link(tmp_path, origin))
        assert "used already" in other.locator("#refused").inner_text(), "good once"
        other.close()
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


def _phone_jpeg(path: Path) -> Path:
    """120x60 pixels with a GPS position and EXIF orientation 6: upright it is 60x120."""
    picture = Image.new("RGB", (120, 60), "orange")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 2.0)})
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def other_site() -> Iterator[object]:
    """A second origin on another port of 127.0.0.1, serving the page it is given."""
    import http.server
    import threading

    pages: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def publish(path: str, html: str) -> str:
        pages[path] = html.encode()
        return f"http://localhost:{server.server_address[1]}{path}"

    yield publish
    server.shutdown()


def test_sign_in_upload_a_phone_photo_and_refuse_another_site(
    browser: object, serve: object, other_site: object, tmp_path: Path
) -> None:
    project = make_demo_project(tmp_path)
    secrets = {"DEMO_PASSWORD": "pw-for-the-test", "DEMO_SECRET_KEY": "s" * 32}
    origin = serve(project, secrets)  # type: ignore[operator]
    assert "signin?token=" not in (tmp_path / f"serve-{origin.rpartition(':')[2]}.log").read_text()
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.goto(origin)
        assert page.locator("#viewer").count() == 1
        assert page.locator("input[type=file]").count() == 0
        page.click("#signin")
        page.fill("input[name=password]", "pw-for-the-test")
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.set_input_files("input[type=file]", str(_phone_jpeg(tmp_path / "phone.jpg")))
        with page.expect_navigation():
            page.click("form.upload button[type=submit]")
        assert "Saved: phone.jpg" in page.locator("#saved").inner_text()
        thumb = page.locator("figure img[alt^='uploads/']")
        thumb.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(),
            timeout=10_000,
        )  # fmt: skip
        assert "/thumbs/" in thumb.get_attribute("src")
        size = thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size == [60, 120], "the thumbnail shows upright"
        full_url = page.locator("figure a").first.get_attribute("href")
        stored = page.request.get(origin + full_url if full_url.startswith("/") else full_url)
        with Image.open(io.BytesIO(stored.body())) as photo:
            assert photo.size == (60, 120) and not photo.getexif().get_ifd(0x8825)

        form = (
            "<form id=f method=post enctype=multipart/form-data action='" + origin + "/upload'>"
            "<input name=files value=x></form><script>document.getElementById('f').submit()"
            "</script>"
        )
        page.goto(other_site("/evil.html", form))  # type: ignore[operator]
        page.wait_for_load_state()
        assert "CSRF" in page.content() or "refused" in page.content()
        page.goto(origin)
        assert page.locator("figure img[alt^='uploads/']").count() == 1, "nothing was added"
        (cookie,) = [c for c in context.cookies() if c["name"] == "oppdemo_session"]
        with page.expect_navigation():
            page.click("nav form button[type=submit]")
        assert page.locator("#signin").count() == 1
        context.add_cookies([cookie])
        page.goto(origin + "/admin")
        assert page.url.endswith("/signin"), "the old cookie is refused after sign-out"
    finally:
        context.close()


def _big_phone_jpeg(path: Path) -> Path:
    """About 20 MB of JPEG (noise compresses badly), with GPS and orientation 6."""
    width, height = 2800, 2400
    picture = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 2.0)})
    picture.save(path, "JPEG", quality=97, subsampling=0, exif=exif)
    assert path.stat().st_size > 15 * 1024 * 1024
    return path


def _body_size(request: Any) -> int:
    """What a request carried: its Content-Length (Playwright does not capture a file's body)."""
    declared = request.all_headers().get("content-length")
    return int(declared) if declared else len(request.post_data_buffer or b"")


def test_a_20_mb_photo_goes_straight_to_the_bucket_past_a_5_mb_app_limit(
    browser: object, serve: object, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    import boto3

    make_bucket_public(s3_env)
    project = make_demo_project(tmp_path)
    env = {**s3_env, "UPLOAD_MAX_MB": "25", "REQUEST_MAX_MB": "5"}
    origin = serve(project, env)  # type: ignore[operator]
    photo = _big_phone_jpeg(tmp_path / "big.jpg")
    page = browser.new_page()  # type: ignore[attr-defined]
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    try:
        page.goto(_sign_in_link(tmp_path, origin))
        assert page.locator("form.upload").get_attribute("data-direct") == "true"
        page.set_input_files("input[type=file]", str(photo))
        with page.expect_navigation(url=lambda url: "saved=" in url, timeout=120_000):
            page.click("form.upload button[type=submit]")
        assert "Saved: big.jpg" in page.locator("#saved").inner_text()
        bucket = s3_env["S3_ENDPOINT_URL"]
        to_app = [_body_size(r) for r in requests if r.url.startswith(origin)]
        to_bucket = [_body_size(r) for r in requests if r.url.startswith(bucket)]
    finally:
        page.close()
    assert to_app and max(to_app) <= 64 * 1024, "no request to the app carried the photo"
    assert max(to_bucket) > 15 * 1024 * 1024, "the photo went to the bucket"
    client = boto3.client("s3", endpoint_url=s3_env["S3_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id=s3_env["S3_ACCESS_KEY"],
                          aws_secret_access_key=s3_env["S3_SECRET_KEY"])  # fmt: skip
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=s3_env["S3_BUCKET"])["Contents"]]
    assert not [key for key in keys if key.startswith("incoming/")]
    (stored_key,) = [key for key in keys if key.startswith("uploads/")]
    body = client.get_object(Bucket=s3_env["S3_BUCKET"], Key=stored_key)["Body"].read()
    with Image.open(io.BytesIO(body)) as stored:
        assert stored.size == (2400, 2800), "upright"
        assert not stored.getexif().get_ifd(0x8825), "no GPS"
