"""The upload demo's API, over HTTP (FastAPI's TestClient), on the filesystem and on S3."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demo_app import DemoSettings, create_app
from demo_app.settings import read_settings
from services.storage import FilesystemStorage, StorageInterface

from .conftest import free_port, make_bucket_public, make_s3_storage
from .projects import make_demo_project, needs_symlinks, run_cli


def image(image_format: str, colour: str = "red", size: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, image_format)
    return buffer.getvalue()


@pytest.fixture(params=["filesystem", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageInterface:
    if request.param == "filesystem":
        return FilesystemStorage(tmp_path / "uploads", "/static/uploads")
    s3_env = request.getfixturevalue("s3_env")
    make_bucket_public(s3_env)
    return make_s3_storage(s3_env)


PASSWORD = "correct horse battery staple"
OPERATOR = {"Authorization": f"Bearer {PASSWORD}"}


def settings(**overrides: Any) -> DemoSettings:
    """The demo's settings for a test: an operator password, and whatever it changes."""
    return DemoSettings(**{"password": PASSWORD, "secret_key": "k" * 32, **overrides})


@pytest.fixture
def client(storage: StorageInterface) -> Iterator[TestClient]:
    """A client signed in as the operator (a bearer token), as an API client would be."""
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        yield client


def fetch(client: TestClient, url: str) -> bytes:
    """The bytes a photo URL serves: through the app (filesystem) or from S3 over HTTP."""
    if url.startswith("/"):
        answer = client.get(url)
        assert answer.status_code == 200, url
        return answer.content
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def upload_json(
    client: TestClient, *files: tuple[str, bytes, str]
) -> dict[str, list[dict[str, str]]]:
    answer = client.post(
        "/upload",
        files=[("files", file) for file in files],
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_each_format_is_stored_under_a_generated_key_and_served(
    client: TestClient, storage: StorageInterface
) -> None:
    photos = {"a.jpg": "jpg", "b.png": "png", "c.gif": "gif", "d.webp": "webp"}
    files = [
        (name, image(ext.upper().replace("JPG", "JPEG")), "image/png")
        for name, ext in photos.items()
    ]
    result = upload_json(client, *files)
    assert result["rejected"] == []
    assert len(result["saved"]) == 4
    for item, extension in zip(result["saved"], photos.values(), strict=True):
        key = item["key"]
        assert key.startswith("uploads/") and key.endswith(f".{extension}")
        assert len(key) == len("uploads/") + 32 + 1 + len(extension), "a random id"
        stored = storage.get_file(key)
        assert fetch(client, item["url"]) == stored
        with Image.open(io.BytesIO(stored)) as decoded:
            assert decoded.size == (32, 32)
            assert decoded.format == extension.upper().replace("JPG", "JPEG")
        thumb = storage.get_file(f"thumbs/{key[len('uploads/') :].rpartition('.')[0]}.webp")
        assert Image.open(io.BytesIO(thumb)).format == "WEBP"
    listed = client.get("/api/photos").json()
    assert {p["key"]: p["size"] for p in listed} == {
        item["key"]: len(storage.get_file(item["key"])) for item in result["saved"]
    }


def test_bad_files_are_refused_one_by_one_with_a_reason(
    client: TestClient, storage: StorageInterface
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<!doctype html><html><body>hi</body></html>"
    too_big = b"\xff\xd8\xff" + b"\0" * (25 * 1024 * 1024)
    result = upload_json(
        client,
        ("logo.svg", svg, "image/svg+xml"),
        ("page.jpg", html, "image/jpeg"),
        ("empty.png", b"", "image/png"),
        ("huge.jpg", too_big, "image/jpeg"),
        ("good.jpg", image("JPEG"), "image/jpeg"),
    )
    reasons = {item["name"]: item["reason"] for item in result["rejected"]}
    assert reasons == {
        "logo.svg": "not a JPEG, PNG, WebP or GIF image",
        "page.jpg": "not a JPEG, PNG, WebP or GIF image",
        "empty.png": "the file is empty",
        "huge.jpg": "over the 25 MB limit",
    }
    assert [item["key"] for item in result["saved"]] == storage.list_files("uploads/")


def test_the_limit_follows_the_setting(storage: StorageInterface) -> None:
    limited = settings(max_upload_bytes=int(0.1 * 1024 * 1024))
    with TestClient(create_app(storage, limited), headers=OPERATOR) as client:
        noise = io.BytesIO()
        Image.frombytes("RGB", (300, 300), os.urandom(270_000)).save(noise, "PNG")
        result = upload_json(client, ("big.png", noise.getvalue(), "image/png"))
    assert result["rejected"][0]["reason"] == "over the 0.1 MB limit"
    assert storage.list_files() == []


def test_a_browser_form_is_redirected_and_the_name_is_shown_escaped(
    storage: StorageInterface,
) -> None:
    # A browser that signed in (a session cookie, no token), a form post.
    app = create_app(storage, settings())
    client = TestClient(app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 5000))
    assert client.post("/signin", data={"password": PASSWORD}).status_code == 200
    name = "<img src=x onerror=alert(1)>.jpg"
    answer = client.post(
        "/upload",
        files=[
            ("files", (name, image("JPEG"), "image/jpeg")),
            ("files", ("x.txt", b"text", "text/plain")),
        ],
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["location"]).text
    assert "Saved: &lt;img src=x onerror=alert(1)&gt;.jpg" in page
    assert "<img src=x onerror=alert(1)>" not in page
    assert "Not saved: x.txt: not a JPEG, PNG, WebP or GIF image" in page
    assert page.count('class="delete"') == 1


def test_delete_only_uploaded_photos(client: TestClient, storage: StorageInterface) -> None:
    storage.save_file(image("JPEG"), "sample_photos/seeded.jpg")
    key = upload_json(client, ("a.jpg", image("JPEG"), "image/jpeg"))["saved"][0]["key"]
    page = client.get("/").text
    assert "sample_photos/seeded.jpg" in page and key in page
    assert client.delete("/api/photos/sample_photos/seeded.jpg").status_code == 403
    assert client.delete(f"/api/photos/{key}").status_code == 204
    assert client.delete(f"/api/photos/{key}").status_code == 404
    assert storage.list_files() == ["sample_photos/seeded.jpg"]


@needs_symlinks
def test_deleting_a_linked_upload_never_deletes_its_target(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads", "/static/uploads")
    storage.save_file(image("JPEG"), "sample_photos/seeded.jpg")
    storage.ensure_directories("uploads")
    (tmp_path / "uploads/uploads/alias.jpg").symlink_to("../sample_photos/seeded.jpg")
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        answer = client.delete("/api/photos/uploads/alias.jpg")
    assert 400 <= answer.status_code < 500
    assert storage.get_file("sample_photos/seeded.jpg") == image("JPEG")


def test_a_request_too_large_is_cut_off_with_413(
    client: TestClient, storage: StorageInterface
) -> None:
    answer = client.post(
        "/upload",
        content=b"x" * (101 * 1024 * 1024 + 1),
        headers={"Content-Type": "multipart/form-data; boundary=b", "Accept": "application/json"},
    )
    assert answer.status_code == 413
    assert storage.list_files() == []


def test_a_storage_failure_is_a_message_not_a_traceback(s3_env: dict[str, str]) -> None:
    storage = make_s3_storage(
        {**s3_env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
        max_attempts=1,
        connect_timeout=1,
    )
    with TestClient(
        create_app(storage, settings()), raise_server_exceptions=False, headers=OPERATOR
    ) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "The storage could not be read" in page.text and "check S3_ENDPOINT_URL" in page.text
        result = upload_json(client, ("a.jpg", image("JPEG"), "image/jpeg"))
        assert result["saved"] == []
        assert "the storage refused it" in result["rejected"][0]["reason"]
        assert client.get("/api/photos").status_code == 503


def test_a_read_only_disk_starts_and_says_uploads_need_s3(read_only_folder: Path) -> None:
    storage = FilesystemStorage(read_only_folder)
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "Uploads need S3 here" in page.text and "STORAGE_TYPE=s3" in page.text
        assert 'type="file"' not in page.text
        answer = client.post(
            "/upload",
            files=[("files", ("a.jpg", image("JPEG"), "image/jpeg"))],
            headers={"Accept": "application/json"},
        )
        assert answer.status_code == 503
        assert "S3_BUCKET" in answer.json()["error"]


def _page_of(project: Path) -> str:
    """The demo page as the project's own app serves it, in a process of its own."""
    code = (
        "import sys; sys.path.insert(0, '.')\n"
        "from fastapi.testclient import TestClient\n"
        "from demo_app import create_app\n"
        "print(TestClient(create_app()).get('/').text)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_destroy_leaves_the_minimal_app_and_restore_brings_the_demo_back(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    assert run_cli(project, "save").returncode == 0
    assert "Photo uploads" in _page_of(project)
    assert run_cli(project, "destroy", "--yes").returncode == 0
    removed = _page_of(project)
    assert "The upload demo was removed" in removed and "oppdemo.py restore" in removed
    assert run_cli(project, "restore").returncode == 0
    assert "Photo uploads" in _page_of(project)


@pytest.mark.parametrize("command", [("diff",), ("save",), ("restore",), ("backups",), ("undo",)])
def test_asset_commands_never_import_the_web_stack(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    project = make_demo_project(tmp_path)
    assert run_cli(project, "save").returncode == 0
    result = run_cli(project, *command, python_flags=("-X", "importtime"))
    assert result.returncode in (0, 1), result.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
    }
    assert "oppdemo" in imported, "the import log was read"
    assert not imported & {"fastapi", "starlette", "uvicorn", "jinja2", "boto3", "botocore"}


def test_serve_names_a_bad_setting_in_one_sentence(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    result = run_cli(project, "serve", "--port", str(free_port()), env={"STORAGE_TYPE": "s4"})
    assert result.returncode == 2
    assert "STORAGE_TYPE='s4' is not a storage type" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_browser_gets_an_html_404_and_an_api_client_json(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text and 'href="/"' in page.text
    api = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"error": "not found"}
    missing = client.get("/demo-static/none.css", headers={"Accept": "text/html"})
    assert missing.status_code == 404


def test_the_pages_have_a_favicon(client: TestClient) -> None:
    page = client.get("/").text
    assert '<link rel="icon" href="/demo-static/favicon.svg"' in page
    for url in ("/demo-static/favicon.svg", "/favicon.ico"):
        icon = client.get(url)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")


def test_a_phones_full_size_photo_is_signed_with_the_default_limit(
    s3_env: dict[str, str],
) -> None:
    # A phone's full-size JPEG (24 MP, say) is 12 MB or so: the default limit takes it on
    # the direct path, where the bucket, not the app, receives it.
    make_bucket_public(s3_env)
    defaults = read_settings({"DEMO_PASSWORD": PASSWORD})
    with TestClient(create_app(make_s3_storage(s3_env), defaults), headers=OPERATOR) as client:
        ticket = {"name": "phone.jpg", "size": 12 * 1024 * 1024, "type": "image/jpeg"}
        answer = client.post("/api/uploads", json=ticket, headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.text
