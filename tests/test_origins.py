"""The page's Content-Security-Policy allows the origin each direct upload is posted to and
the origins photos are served from, for every storage configuration of example.env. Signing
is local: the AWS configurations send nothing anywhere; the custom endpoint is moto."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from demo_app import create_app
from demo_app.origins import origin_of
from services.storage import S3Storage
from services.storage.config import S3Settings

from .conftest import make_bucket_public, make_s3_storage
from .test_demo_app import OPERATOR, image, settings

AWS = S3Settings(bucket="my-uploads", access_key="AKIAEXAMPLE", secret_key="never-shown")
# Each configuration of example.env (an AWS one with a region, public or presigned, path
# style; LeapCell with S3_CDN_URL); the custom endpoint (moto) is the test below.
CONFIGURATIONS = {
    "aws-us-west-2-public": {"region": "us-west-2"},
    "aws-us-east-1-public": {"region": "us-east-1"},
    "aws-presigned": {"region": "eu-central-1", "presign": True},
    "aws-path-style": {"region": "eu-central-1", "addressing_style": "path"},
    "leapcell-cdn": {
        "endpoint_url": "https://objstorage.leapcell.io",
        "cdn_url": "https://acct.leapcellobj.com/my-uploads",
    },
    "minio-virtual": {"endpoint_url": "https://minio.example:9000", "addressing_style": "virtual"},
    # The same, as example.env's other lines combine them.
    "aws-us-west-2-presigned": {"region": "us-west-2", "presign": True},
    "aws-prefixed": {"region": "us-west-2", "prefix": "app/"},
    # Dots in the name: botocore posts path-style to the regional host.
    "aws-dotted-bucket": {"region": "us-west-2", "bucket": "my.uploads"},
    "leapcell-presigned": {"endpoint_url": "https://objstorage.leapcell.io", "presign": True},
    "leapcell-cdn-prefixed": {
        "endpoint_url": "https://objstorage.leapcell.io",
        "cdn_url": "https://acct.leapcellobj.com/my-uploads",
        "prefix": "app/",
    },
    "localstack-path": {"endpoint_url": "http://localhost.localstack.cloud:4566"},
}


def policy(answer: httpx.Response) -> dict[str, list[str]]:
    directives = answer.headers["content-security-policy"].split(";")
    return {d.split()[0]: d.split()[1:] for d in (d.strip() for d in directives) if d}


def allowed(sources: list[str], url: str, own: str) -> bool:
    origin = origin_of(url)
    return origin is None or origin in sources or ("'self'" in sources and origin == own)


def signed_url(client: TestClient) -> str:
    answer = client.post("/api/uploads", json={"name": "a.jpg", "size": 1000, "type": "image/jpeg"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_the_csp_allows_where_uploads_go_and_photos_come_from(name: str) -> None:
    storage = S3Storage(dataclasses.replace(AWS, **CONFIGURATIONS[name]))  # type: ignore[arg-type]
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        csp = policy(client.get("/signin"))
        url = signed_url(client)
    own = "http://testserver"
    assert allowed(csp["connect-src"], url, own), (url, csp["connect-src"])
    for key in ("uploads/a.jpg", "thumbs/a.webp", "sample_photos/a.jpg"):
        photo = storage.get_file_url(key)
        assert allowed(csp["img-src"], photo, own), (photo, csp["img-src"])
    # The form is sent by script, never by a form's action: form-action stays the app's own.
    assert csp["form-action"] == ["'self'"]


@pytest.mark.parametrize("cdn", [False, True])
def test_on_a_custom_endpoint_the_page_allows_its_own_urls(
    s3_env: dict[str, str], cdn: bool
) -> None:
    make_bucket_public(s3_env)
    # A CDN on another origin than the endpoint: moto's address by another name.
    other_name = s3_env["S3_ENDPOINT_URL"].replace("127.0.0.1", "localhost")
    extra = {"cdn_url": f"{other_name}/{s3_env['S3_BUCKET']}"} if cdn else {}
    storage = make_s3_storage(s3_env, **extra)
    headers = {**OPERATOR, "Accept": "application/json"}
    with TestClient(create_app(storage, settings()), headers=headers) as client:
        url = signed_url(client)
        saved = client.post("/upload", files={"files": ("a.jpg", image("JPEG"))}).json()["saved"]
        page = client.get("/", headers={"Accept": "text/html"})
    csp = policy(page)
    assert allowed(csp["connect-src"], url, "http://testserver")
    assert origin_of(url) == origin_of(s3_env["S3_ENDPOINT_URL"])
    assert saved and saved[0]["url"] in page.text
    assert allowed(csp["img-src"], saved[0]["url"], "http://testserver")
    assert not cdn or origin_of(saved[0]["url"]) != origin_of(url)


@pytest.mark.parametrize("bucket", ["my-uploads", "my.uploads"])
@pytest.mark.parametrize("presign", [False, True])
@pytest.mark.parametrize("region", ["us-west-2", "me-south-1", "us-east-1"])
def test_on_aws_uploads_and_photos_go_to_the_buckets_regional_host(
    region: str, presign: bool, bucket: str
) -> None:
    # AWS's global host redirects a new bucket's requests for a day, which a browser's
    # preflight cannot follow and a signed GET does not survive, and refuses buckets of the
    # regions opened since 2019 (me-south-1): neither uploads nor photos may go there. The
    # global host is us-east-1's own. A name with dots goes in the path: AWS's certificate
    # covers one label before .s3.
    config = dataclasses.replace(AWS, region=region, presign=presign, bucket=bucket)
    storage = S3Storage(config)
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        url = signed_url(client)
        csp = policy(client.get("/signin"))
    regional = {
        f"s3.{region}.amazonaws.com",
        *(["s3.amazonaws.com"] if region == "us-east-1" else []),
    }
    photo = storage.get_file_url("uploads/a.jpg")
    for where in (url, photo):
        host = urlsplit(where).hostname or ""
        named = host.removeprefix(f"{bucket}.") if "." not in bucket else host
        assert named in regional, where
    assert origin_of(url) in csp["connect-src"]
    assert origin_of(photo) in csp["img-src"]
