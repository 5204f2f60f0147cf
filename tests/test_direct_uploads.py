"""Uploads straight to the bucket: the app signs a presigned POST, the client posts the file
to the bucket over HTTP (as a browser would: a multipart form with the policy's fields), and
the app confirms, checks and stores it. Against a real S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from demo_app import create_app
from services.storage import FilesystemStorage, StorageInterface

from .conftest import make_bucket_public, make_s3_storage
from .test_browser import serve  # noqa: F401 - a fixture
from .test_demo_app import OPERATOR, image, settings

JSON = {"Accept": "application/json", **OPERATOR}


@pytest.fixture
def bucket_storage(s3_env: dict[str, str]) -> StorageInterface:
    make_bucket_public(s3_env)
    return make_s3_storage(s3_env)


@pytest.fixture
def client(bucket_storage: StorageInterface) -> Any:
    with TestClient(create_app(bucket_storage, settings()), headers=JSON) as client:
        yield client


def _sign(client: TestClient, size: int, kind: str = "image/jpeg") -> httpx.Response:
    return client.post("/api/uploads", json={"name": "a.jpg", "size": size, "type": kind})


def _post_to_bucket(
    signed: dict[str, Any], data: bytes, kind: str = "image/jpeg"
) -> httpx.Response:
    return httpx.post(
        signed["url"], data=signed["fields"], files={"file": ("a.jpg", data, kind)}, timeout=30
    )


def test_sign_post_to_the_bucket_and_confirm(
    client: TestClient, bucket_storage: StorageInterface
) -> None:
    photo = image("JPEG", size=64)
    signed = _sign(client, len(photo)).json()
    assert signed["fields"]["key"] == f"incoming/{signed['id']}"
    assert "policy" in signed["fields"] and signed["expires"] == 600
    posted = _post_to_bucket(signed, photo)
    assert posted.status_code in (200, 201, 204), posted.text
    assert bucket_storage.list_files("incoming/") == [f"incoming/{signed['id']}"]
    assert client.get("/api/photos").json() == [], "an incoming object is never shown"

    confirmed = client.post(f"/api/uploads/{signed['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    saved = confirmed.json()["saved"][0]
    assert saved["key"] == f"uploads/{signed['id']}.jpg"
    assert httpx.get(saved["url"], timeout=30).content == bucket_storage.get_file(saved["key"])
    assert bucket_storage.list_files("incoming/") == []
    assert [p["key"] for p in client.get("/api/photos").json()] == [saved["key"]]


def test_a_confirm_of_html_deletes_it_and_says_why(
    client: TestClient, bucket_storage: StorageInterface
) -> None:
    html = b"<!doctype html><script>alert(1)</script>"
    signed = _sign(client, len(html)).json()
    _post_to_bucket(signed, html)
    answer = client.post(f"/api/uploads/{signed['id']}/confirm")
    assert answer.status_code == 422 and "not a JPEG" in answer.json()["error"]
    assert bucket_storage.list_files() == []


def test_a_confirm_of_nothing_is_422(client: TestClient) -> None:
    assert client.post(f"/api/uploads/{'0' * 32}/confirm").status_code == 422
    assert client.post("/api/uploads/..%2F..%2Fsecret/confirm").status_code in (404, 422)


@pytest.mark.parametrize(
    ("size", "kind", "reason"),
    [(26 * 1024 * 1024, "image/jpeg", "over the 25 MB limit"), (10, "image/svg+xml", "not a JPEG"),
     (0, "image/png", "empty")],
)  # fmt: skip
def test_sign_refuses_what_an_upload_would_refuse(
    client: TestClient, size: int, kind: str, reason: str
) -> None:
    answer = _sign(client, size, kind)
    assert answer.status_code == 422 and reason in answer.json()["error"]


def test_signing_needs_an_operator_and_the_page_origin(bucket_storage: StorageInterface) -> None:
    app = create_app(bucket_storage, settings())
    with TestClient(app, base_url="https://demo.example") as client:
        body = {"name": "a.jpg", "size": 10, "type": "image/jpeg"}
        assert client.post("/api/uploads", json=body).status_code == 401
        client.post("/signin", data={"password": "correct horse battery staple"})
        evil = client.post("/api/uploads", json=body, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        own = client.post("/api/uploads", json=body, headers={"Origin": "https://demo.example"})
        assert own.status_code == 200


def test_the_filesystem_keeps_the_proxied_path(tmp_path: Path) -> None:
    app = create_app(FilesystemStorage(tmp_path), settings())
    with TestClient(app, headers=JSON) as client:
        assert _sign(client, 10).status_code == 409
        assert 'data-direct="false"' in client.get("/").text


def test_direct_uploads_can_be_turned_off(bucket_storage: StorageInterface) -> None:
    app = create_app(bucket_storage, settings(direct_uploads=False))
    with TestClient(app, headers=JSON) as client:
        assert _sign(client, 10).status_code == 409


# The bucket must allow it: `storage check --origin`, and unconfirmed uploads pruned


@pytest.fixture(scope="module")
def cors_moto_endpoint() -> Any:
    """A moto server that answers CORS preflights only as the bucket's CORS rules say (moto
    answers every preflight otherwise)."""
    from .conftest import moto_process

    with moto_process(MOTO_DISABLE_GLOBAL_CORS="true") as endpoint:
        yield endpoint


def test_check_origin_names_the_cors_rule_then_passes(
    tmp_path: Path, cors_moto_endpoint: str
) -> None:
    import json

    import boto3

    from oppdemo.storage.check import SERVED_FOLDERS, cors_configuration, public_read_policy

    from .conftest import ACCESS_KEY, SECRET_KEY
    from .projects import make_s3_app, run_cli

    client = boto3.client("s3", endpoint_url=cors_moto_endpoint, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, region_name="us-east-1")  # fmt: skip
    client.create_bucket(Bucket="direct")
    naive = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::direct/*"}]}  # fmt: skip
    client.put_bucket_policy(Bucket="direct", Policy=json.dumps(naive))
    project = make_s3_app(tmp_path, cors_moto_endpoint, "direct", ACCESS_KEY, SECRET_KEY)
    origin = "https://app.example"

    def check() -> dict[str, Any]:
        result = run_cli(project, "storage", "check", "--origin", origin, "--json")
        assert "Traceback" not in result.stderr
        return {step["name"]: step for step in json.loads(result.stdout)["steps"]}

    steps = check()
    assert steps["CORS allows uploads"]["ok"] is False
    assert "put-bucket-cors" in steps["CORS allows uploads"]["detail"]
    assert steps["incoming/ is private"]["ok"] is False, "the naive policy serves incoming/"
    client.put_bucket_cors(Bucket="direct", CORSConfiguration=cors_configuration(origin))
    policy = public_read_policy("direct", only=SERVED_FOLDERS)
    client.put_bucket_policy(Bucket="direct", Policy=json.dumps(policy))
    steps = check()
    assert steps["CORS allows uploads"]["ok"] is True
    assert steps["incoming/ is private"]["ok"] is True
    assert not client.list_objects_v2(Bucket="direct").get("Contents"), "probes cleaned up"


def test_prune_incoming_removes_only_old_unconfirmed_uploads(tmp_path: Path) -> None:
    import os
    import time

    from .projects import run_cli

    project = tmp_path / "app"
    (project / "static/uploads/incoming").mkdir(parents=True)
    (project / "static/uploads/uploads").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    import shutil

    from .projects import PROJECT_ROOT

    shutil.copytree(PROJECT_ROOT / "services", project / "services")
    old, new = project / "static/uploads/incoming/old", project / "static/uploads/incoming/new"
    old.write_bytes(b"abandoned")
    new.write_bytes(b"in flight")
    (project / "static/uploads/uploads/kept.jpg").write_bytes(b"kept")
    two_days_ago = time.time() - 48 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    dry = run_cli(project, "storage", "prune-incoming", "--older-than", "24", "--dry-run")
    assert dry.returncode == 0 and "would delete incoming/old" in dry.stdout and old.exists()
    refused = run_cli(project, "storage", "prune-incoming", "--older-than", "24")
    assert refused.returncode == 2 and old.exists()
    done = run_cli(project, "storage", "prune-incoming", "--older-than", "24", "--yes")
    assert done.returncode == 0, done.stderr
    assert not old.exists() and new.exists()
    assert (project / "static/uploads/uploads/kept.jpg").exists()
    kept = next((project / "backups/storage").iterdir())
    assert (kept / "incoming/old").read_bytes() == b"abandoned"


# The bucket enforces the POST policy: on LocalStack (moto and s3rver accept any POST)

LOCALSTACK = ("localstack-core[base-runtime]==4.3.0", "cbor2<5.7", "pyopenssl==24.1.0",
              "cryptography==42.0.8", "service_identity==24.1.0")  # fmt: skip


@pytest.fixture(scope="session")
def localstack_endpoint() -> Any:
    """LocalStack's S3 on 127.0.0.1, from PyPI, in a virtual environment of its own (kept in
    the temp folder between runs); skipped, with the reason, where it cannot be installed."""
    import os
    import shutil
    import subprocess
    import tempfile
    import time

    from .conftest import free_port

    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH to install LocalStack")
    # One per user: another user's copy in the shared temp folder cannot be run or fixed.
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    venv = Path(tempfile.gettempdir()) / f"oppdemo-localstack-4.3.0-{user}"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not (venv / "ready").exists():
        made = subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(venv)],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        got = made.returncode == 0 and subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(python), *LOCALSTACK],
            capture_output=True, text=True, timeout=900,
        ).returncode == 0  # fmt: skip
        if not got:
            pytest.skip("LocalStack could not be installed from the package registry")
        (venv / "ready").write_text("ok")
    port = free_port()
    env = {**os.environ, "GATEWAY_SERVER": "hypercorn", "DNS_ADDRESS": "0",
           "SKIP_SSL_CERT_DOWNLOAD": "1", "OVERRIDE_IN_DOCKER": "0", "SERVICES": "s3",
           "GATEWAY_LISTEN": f"127.0.0.1:{port}"}  # fmt: skip
    log = Path(tempfile.mkdtemp()) / "localstack.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([str(python), "-m", "localstack.runtime.main"], env=env,
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{endpoint}/_localstack/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.skip(f"LocalStack did not start: {log.read_text()[-500:]}")
        time.sleep(0.5)
    yield endpoint
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # still waiting on idle keep-alive connections
        process.kill()
        process.wait(timeout=30)


@pytest.fixture
def enforcing(localstack_endpoint: str) -> StorageInterface:
    import uuid

    import boto3

    bucket = f"direct-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=localstack_endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")  # fmt: skip
    client.create_bucket(Bucket=bucket)
    env = {"S3_BUCKET": bucket, "S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test",
           "S3_ENDPOINT_URL": localstack_endpoint}  # fmt: skip
    return make_s3_storage(env)


def test_the_bucket_enforces_the_signed_policy(enforcing: StorageInterface) -> None:
    limited = settings(max_upload_bytes=int(0.1 * 1024 * 1024))
    with TestClient(create_app(enforcing, limited), headers=JSON) as client:
        photo = image("JPEG", size=64)
        signed = _sign(client, len(photo)).json()
        too_big = _post_to_bucket(signed, photo + b"\0" * (200 * 1024))
        assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text
        other_key = {**signed, "fields": {**signed["fields"], "key": "uploads/evil.jpg"}}
        moved = _post_to_bucket(other_key, photo)
        assert moved.status_code == 403 and "Policy Condition failed" in moved.text
        other_type = {**signed, "fields": {**signed["fields"], "Content-Type": "text/html"}}
        html = _post_to_bucket(other_type, photo, "text/html")
        assert html.status_code == 403 and "Policy Condition failed" in html.text
        assert enforcing.list_files() == []
        assert _post_to_bucket(signed, photo).status_code in (200, 201, 204)
        confirmed = client.post(f"/api/uploads/{signed['id']}/confirm")
        assert confirmed.status_code == 200, confirmed.text
    assert enforcing.list_files("incoming/") == []
    assert len(enforcing.list_files("uploads/")) == 1


def test_an_expired_policy_is_refused(enforcing: StorageInterface) -> None:
    import time

    sign = enforcing.presigned_post  # type: ignore[attr-defined]
    signed = sign("incoming/late", "image/jpeg", 1000, expires=1)
    time.sleep(2.5)
    late = _post_to_bucket(signed, image("JPEG"))
    assert late.status_code == 403 and "expired" in late.text.lower()
    assert enforcing.list_files() == []


def test_a_confirmed_id_cannot_be_posted_and_confirmed_again(
    client: TestClient, bucket_storage: StorageInterface
) -> None:
    photo = image("JPEG", size=64)
    signed = _sign(client, len(photo)).json()
    _post_to_bucket(signed, photo)
    first = client.post(f"/api/uploads/{signed['id']}/confirm").json()["saved"][0]
    stored = bucket_storage.get_file(first["key"])
    _post_to_bucket(signed, image("PNG", colour="blue", size=64))
    again = client.post(f"/api/uploads/{signed['id']}/confirm")
    assert again.status_code == 422 and "already confirmed" in again.json()["error"]
    assert bucket_storage.get_file(first["key"]) == stored
    assert bucket_storage.list_files("incoming/") == []


# In Chromium, against LocalStack (which answers preflights only as the bucket's CORS rules
# say), with photos served from another origin than the one uploads are posted to


def test_chromium_uploads_to_localstack_with_a_cdn(
    chromium: Any,
    serve: Any,  # noqa: F811
    tmp_path: Path,
    localstack_endpoint: str,
) -> None:
    import io
    import json
    import shlex
    import uuid

    import boto3
    from PIL import Image

    from .projects import make_demo_project, run_cli

    bucket = f"cdn-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=localstack_endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")  # fmt: skip
    client.create_bucket(Bucket=bucket)
    # The "CDN": the same server by another name, so another origin than the POST's.
    cdn = f"{localstack_endpoint.replace('127.0.0.1', 'localhost')}/{bucket}"
    env = {"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test",
           "S3_BUCKET": bucket, "S3_ENDPOINT_URL": localstack_endpoint, "S3_CDN_URL": cdn,
           "DEMO_PASSWORD": "pw-for-the-test", "DEMO_SECRET_KEY": "s" * 32}  # fmt: skip
    project = make_demo_project(tmp_path)
    origin = serve(project, env)
    photo = tmp_path / "holiday.jpg"
    Image.new("RGB", (120, 90), "orange").save(photo, "JPEG")

    context = chromium.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip

    def upload() -> str:
        page.goto(f"{origin}/")
        page.set_input_files("input[type=file]", str(photo))
        with page.expect_navigation(url=lambda url: "saved=" in url or "rejected=" in url):
            page.click("form.upload button[type=submit]")
        return str(page.content())

    try:
        page.goto(f"{origin}/signin")
        page.fill("input[name=password]", "pw-for-the-test")
        with page.expect_navigation():
            page.click("button[type=submit]")
        # No CORS rule yet: the bucket refuses the browser, and the page says where to look.
        assert "check its CORS rules" in upload()
        check = run_cli(project, "storage", "check", "--origin", origin, "--json", env=env)
        steps = {step["name"]: step for step in json.loads(check.stdout)["steps"]}
        detail = steps["CORS allows uploads"]["detail"]
        assert steps["CORS allows uploads"]["ok"] is False and localstack_endpoint in detail
        command = shlex.split(detail[detail.index("aws s3api put-bucket-cors") :])
        rules = json.loads(command[command.index("--cors-configuration") + 1])
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration=rules)

        assert "Saved: holiday.jpg" in upload()
        thumb = page.locator("figure img[alt^='uploads/']")
        assert thumb.get_attribute("src").startswith(f"{cdn}/thumbs/")
        thumb.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=thumb.element_handle(), timeout=10_000)  # fmt: skip
    finally:
        context.close()
    assert refused == [], "the page's CSP refused nothing"
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert not [key for key in keys if key.startswith("incoming/")]
    (stored,) = [key for key in keys if key.startswith("uploads/")]
    body = client.get_object(Bucket=bucket, Key=stored)["Body"].read()
    with Image.open(io.BytesIO(body)) as saved:
        assert saved.size == (120, 90)
