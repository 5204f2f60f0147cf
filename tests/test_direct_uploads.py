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
    [(11 * 1024 * 1024, "image/jpeg", "over the 10 MB limit"), (10, "image/svg+xml", "not a JPEG"),
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
