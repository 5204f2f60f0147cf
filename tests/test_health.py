"""Probes and a hung bucket: /healthz never touches the storage, /readyz and the page answer
in bounded time and say the storage did not answer, HEAD is answered as GET."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from demo_app import create_app
from services.storage import StorageInterface

from .conftest import make_bucket_public, make_s3_storage
from .test_demo_app import settings


@pytest.fixture
def hung(hung_endpoint: str) -> StorageInterface:
    """An S3 storage on a bucket that never answers, with the tool's default timeouts."""
    env = {"S3_BUCKET": "hung", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s",
           "S3_ENDPOINT_URL": hung_endpoint}  # fmt: skip
    return make_s3_storage(env, connect_timeout=5.0, read_timeout=30.0, max_attempts=3)


def client_of(storage: StorageInterface, **overrides: Any) -> Iterator[TestClient]:
    with TestClient(create_app(storage, settings(**overrides))) as client:
        yield client


@pytest.fixture
def hung_client(hung: StorageInterface) -> Iterator[TestClient]:
    yield from client_of(hung, storage_timeout=1.0)


def test_healthz_answers_without_the_storage(hung_client: TestClient) -> None:
    assert hung_client.get("/healthz").json() == {"status": "ok"}
    head = hung_client.head("/healthz")
    assert head.status_code == 200 and head.content == b""


def test_readyz_is_503_naming_the_problem_when_the_bucket_hangs(hung_client: TestClient) -> None:
    answer = hung_client.get("/readyz")
    assert answer.status_code == 503
    assert "did not answer within 1 s" in answer.json()["error"]


def test_readyz_is_503_when_the_bucket_is_missing(s3_env: dict[str, str]) -> None:
    for client in client_of(make_s3_storage({**s3_env, "S3_BUCKET": "no-such-bucket"})):
        answer = client.get("/readyz")
        assert answer.status_code == 503 and "could not be read" in answer.json()["error"]


def test_readyz_is_200_when_the_bucket_answers(s3_env: dict[str, str]) -> None:
    for client in client_of(make_s3_storage(s3_env)):
        assert client.get("/readyz").json() == {"status": "ok"}


def test_the_page_says_the_storage_did_not_answer_within_15_s(hung: StorageInterface) -> None:
    # The default wait (10 s), against botocore's default 5 s connect and 30 s read timeouts
    # three times over, and nginx's 60 s: the page must answer first.
    for client in client_of(hung):
        started = time.monotonic()
        page = client.get("/")
        took = time.monotonic() - started
        assert page.status_code == 200 and took < 15
        assert "The storage did not answer within 10 s" in page.text
        # A second visitor while the first listing still hangs shares it: no new one.
        assert "did not answer" in client.get("/api/photos").json()["error"]


def test_head_of_the_page_is_its_get_without_a_body(s3_env: dict[str, str]) -> None:
    make_bucket_public(s3_env)
    for client in client_of(make_s3_storage(s3_env)):
        got = client.get("/")
        head = client.head("/")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-security-policy"] == got.headers["content-security-policy"]
