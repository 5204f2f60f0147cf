"""S3 backend behaviour beyond the contract: failures, private buckets, multipart, secrets."""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request

import pytest
from moto.server import ThreadedMotoServer

from services.storage import (
    StorageAccessError,
    StorageConfigError,
    StorageUnavailableError,
    get_storage,
)

from .conftest import SECRET_KEY, free_port, make_s3_storage


def test_closed_port_fails_fast_with_a_clear_error(s3_env: dict[str, str]) -> None:
    storage = get_storage({**s3_env, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError, match="check S3_ENDPOINT_URL"):
        storage.file_exists("a.txt")
    assert time.monotonic() - started < 15


def test_stopped_server_fails_with_a_clear_error(s3_env: dict[str, str]) -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    storage = get_storage({**s3_env, "S3_ENDPOINT_URL": f"http://{host}:{port}"})
    server.stop()
    started = time.monotonic()
    for call in (lambda: storage.save_file(b"x", "a.txt"), lambda: storage.list_files()):
        with pytest.raises(StorageUnavailableError, match="did not answer"):
            call()
    assert time.monotonic() - started < 30


def test_wrong_credentials_give_a_clear_error_without_the_secret(
    strict_moto_endpoint: str, s3_env: dict[str, str]
) -> None:
    storage = get_storage({**s3_env, "S3_ENDPOINT_URL": strict_moto_endpoint})
    for call in (
        lambda: storage.save_file(b"x", "a.txt"),
        lambda: storage.get_file("a.txt"),
        lambda: storage.file_exists("a.txt"),
        lambda: storage.list_files(),
    ):
        with pytest.raises(StorageAccessError, match="check S3_ACCESS_KEY, S3_SECRET_KEY") as info:
            call()
        assert SECRET_KEY not in str(info.value)


def test_missing_bucket_raises_instead_of_answering_false(s3_env: dict[str, str]) -> None:
    storage = get_storage({**s3_env, "S3_BUCKET": "no-such-bucket-here"})
    with pytest.raises(StorageConfigError, match="does not exist"):
        storage.file_exists("a.txt")
    with pytest.raises(StorageConfigError, match="does not exist"):
        storage.get_file("a.txt")


def test_unsigned_url_of_a_private_bucket_is_refused_but_presigned_works(
    s3_env: dict[str, str],
) -> None:
    plain = make_s3_storage(s3_env)
    url = plain.save_file(b"private", "secret/report.txt")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    presigned = get_storage({**s3_env, "S3_PRESIGN": "true", "S3_PRESIGN_EXPIRES": "120"})
    signed_url = presigned.get_file_url("secret/report.txt")
    assert "X-Amz-Expires=120" in signed_url
    with urllib.request.urlopen(signed_url, timeout=10) as response:
        assert response.read() == b"private"


def test_large_files_go_up_in_parts_and_come_back_whole(s3_env: dict[str, str]) -> None:
    storage = get_storage({**s3_env, "S3_MULTIPART_THRESHOLD_MB": "5"})
    content = os.urandom(11 * 1024 * 1024)
    storage.save_file(content, "big/file.bin")
    assert storage.get_file("big/file.bin") == content
    head = storage._client.head_object(Bucket=s3_env["S3_BUCKET"], Key="big/file.bin")  # type: ignore[attr-defined]
    assert head["ETag"].strip('"').endswith("-3")


def test_cdn_url_is_used_when_set(s3_env: dict[str, str]) -> None:
    storage = get_storage({**s3_env, "S3_CDN_URL": "https://cdn.example.com/assets/"})
    assert storage.get_file_url("a b/c.jpg") == "https://cdn.example.com/assets/a%20b/c.jpg"


def test_aws_url_without_endpoint_is_virtual_hosted() -> None:
    env = {
        "STORAGE_TYPE": "s3",
        "S3_ACCESS_KEY": "k",
        "S3_SECRET_KEY": "s",
        "S3_BUCKET": "photos",
        "S3_REGION": "eu-west-1",
    }
    url = get_storage(env).get_file_url("a/é.jpg")
    assert url == "https://photos.s3.eu-west-1.amazonaws.com/a/%C3%A9.jpg"


def test_nothing_logged_or_shown_carries_the_secret(
    s3_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    storage = get_storage(s3_env)
    storage.save_file(b"x", "a.txt")
    storage.list_files()
    storage.get_file_url("a.txt")
    assert caplog.records, "debug logging was captured"
    assert SECRET_KEY not in caplog.text
    assert SECRET_KEY not in repr(storage.settings)  # type: ignore[attr-defined]
    assert SECRET_KEY not in storage.describe()


def test_a_stream_over_the_threshold_goes_up_in_parts_and_keeps_its_md5(
    s3_env: dict[str, str],
) -> None:
    import hashlib
    import io

    storage = make_s3_storage(s3_env, multipart_threshold=5 * 1024 * 1024)
    data = os.urandom(11 * 1024 * 1024)
    storage.save_stream(io.BytesIO(data), "big.bin", md5=hashlib.md5(data).hexdigest())
    (info,) = list(storage.iter_files())
    assert info.size == len(data)
    assert info.md5 is None, "a multipart ETag is not an MD5"
    assert storage.file_md5("big.bin") == hashlib.md5(data).hexdigest(), "kept in metadata"
    with storage.open_file("big.bin") as stream:
        assert stream.read() == data


def test_a_failed_server_side_copy_names_the_side_at_fault(s3_env: dict[str, str]) -> None:
    source = make_s3_storage(s3_env, prefix="source/")
    target = make_s3_storage(s3_env, bucket="no-such-target-bucket")
    with pytest.raises(FileNotFoundError) as missing:
        make_s3_storage(s3_env, prefix="dest/").copy_from(source, "gone.jpg", 4, None, None)
    assert f"bucket {s3_env['S3_BUCKET']!r}" in str(missing.value)
    source.save_file(b"here", "here.jpg")
    with pytest.raises(StorageConfigError) as no_target:
        target.copy_from(source, "here.jpg", 4, None, None)
    assert "'no-such-target-bucket' does not exist" in str(no_target.value)
    gone = make_s3_storage(s3_env, bucket="no-such-source-bucket")
    with pytest.raises(StorageConfigError) as no_source:
        make_s3_storage(s3_env).copy_from(gone, "here.jpg", 4, None, None)
    assert "'no-such-source-bucket' does not exist" in str(no_source.value)


def test_waits_are_bounded_by_default_and_attempts_count_the_first() -> None:
    from services.storage import S3Storage
    from services.storage.config import S3Settings, read_settings

    settings = read_settings(
        {"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "S3_BUCKET": "c",
         "S3_ENDPOINT_URL": "http://127.0.0.1:9"}
    )  # fmt: skip
    assert isinstance(settings, S3Settings)
    assert (settings.connect_timeout, settings.read_timeout, settings.max_attempts) == (5, 10, 2)
    config = S3Storage(settings)._client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (5, 10)
    # botocore's own `max_attempts` counts retries: 2 would be 3 attempts.
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}
    with pytest.raises(StorageConfigError, match="S3_READ_TIMEOUT"):
        read_settings({"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b",
                       "S3_BUCKET": "c", "S3_READ_TIMEOUT": "inf"})  # fmt: skip


def test_a_profile_botocore_cannot_find_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.storage import S3Storage
    from services.storage.config import S3Settings

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(StorageConfigError, match="no-such-profile.*AWS_PROFILE"):
        S3Storage(S3Settings(bucket="b", access_key="a", secret_key="s"))
