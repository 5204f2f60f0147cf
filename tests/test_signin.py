"""Signing in and out of the upload demo: the one-time link, sessions that end on every
instance, one limiter for every guess, and what the logs say (never a secret)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from demo_app import create_app
from demo_app.signin import (
    ENDED_PREFIX,
    LIMITER_CLIENTS,
    SESSION_COOKIE,
    SIGN_IN_TRIES,
    HideSignInLinks,
    SignInLimiter,
)
from services.storage import FilesystemStorage, StorageInterface

from .conftest import free_port, make_s3_storage
from .projects import PROJECT_ROOT, make_demo_project
from .test_demo_app import PASSWORD, image, settings

LINK = "a-one-time-link-token-for-the-test"
JSON = {"Accept": "application/json"}


@pytest.fixture(params=["filesystem", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageInterface:
    if request.param == "filesystem":
        return FilesystemStorage(tmp_path / "uploads", "/static/uploads")
    return make_s3_storage(request.getfixturevalue("s3_env"))


def _client(
    storage: StorageInterface, address: str = "198.51.100.1", **overrides: object
) -> TestClient:
    app = create_app(storage, settings(**overrides))
    return TestClient(
        app, base_url="https://demo.example", client=(address, 4000), follow_redirects=False
    )


def _upload(client: TestClient, **headers: str) -> int:
    files = [("files", ("a.jpg", image("JPEG"), "image/jpeg"))]
    return client.post("/upload", files=files, headers={**JSON, **headers}).status_code


# Sessions that end


def test_signing_out_on_one_instance_ends_the_session_on_the_other(
    storage: StorageInterface,
) -> None:
    # Two instances: two apps sharing DEMO_SECRET_KEY and one bucket (or folder), no memory.
    with _client(storage) as first, _client(storage) as second:
        assert first.post("/signin", data={"password": PASSWORD}).status_code == 303
        cookie = first.cookies[SESSION_COOKIE]
        second.cookies.set(SESSION_COOKIE, cookie)
        assert second.get("/admin").status_code == 200
        signed_out = first.post("/signout")
        assert signed_out.status_code == 303 and SESSION_COOKIE in signed_out.headers["set-cookie"]
        assert second.get("/admin").status_code == 303, "the old cookie is refused"
        assert _upload(second) == 401
        first.cookies.set(SESSION_COOKIE, cookie)
        assert first.get("/admin").status_code == 303
        assert second.post("/signin", data={"password": PASSWORD}).status_code == 303
        assert second.get("/admin").status_code == 200, "a new sign-in is a new session"
        (record,) = storage.list_files(ENDED_PREFIX)
        assert second.delete(f"/api/photos/{record}").status_code == 403, "out of reach"
    page = _client(storage).get("/")
    assert ENDED_PREFIX not in page.text, "the records are never shown"


def test_no_request_reads_a_record_through_the_served_folder(tmp_path: Path) -> None:
    # On the filesystem the app serves the storage's folder (the photos' URLs), where the
    # records are too: `sessions-ended/` is no photo, whatever the path's spelling.
    storage = FilesystemStorage(tmp_path / "uploads", "/static/uploads")
    with _client(storage) as client:
        client.post("/signin", data={"password": PASSWORD})
        client.post("/signout")
        (record,) = storage.list_files(ENDED_PREFIX)
        name = record.removeprefix(ENDED_PREFIX)
        for path in (
            f"/static/uploads/{record}",
            f"/static/uploads/sessions-ended%2F{name}",
            f"/static/uploads/uploads%2F..%2F{record}",
            f"/static/uploads/%2e/{record}",
        ):
            assert client.get(path).status_code == 404, path


def test_a_record_is_kept_until_its_session_would_have_expired(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    storage.save_file(b"", f"{ENDED_PREFIX}1000-{'0' * 32}")  # expired long ago
    storage.save_file(b"", f"{ENDED_PREFIX}used-{'1' * 32}")  # a used link: for good
    with _client(storage) as client:
        client.post("/signin", data={"password": PASSWORD})
        client.post("/signout")
    kept = storage.list_files(ENDED_PREFIX)
    assert len(kept) == 2 and f"{ENDED_PREFIX}used-{'1' * 32}" in kept
    assert not [key for key in kept if key.startswith(f"{ENDED_PREFIX}1000-")]


def test_changing_the_password_ends_every_session(tmp_path: Path) -> None:
    # DEMO_SECRET_KEY set: the key alone would keep a leaked password's sessions for 12 h.
    storage = FilesystemStorage(tmp_path / "uploads")
    with _client(storage, secret_key="s" * 32) as before:
        assert before.post("/signin", data={"password": PASSWORD}).status_code == 303
        cookie = {"Cookie": f"{SESSION_COOKIE}={before.cookies[SESSION_COOKIE]}"}
    with _client(storage, secret_key="s" * 32) as same:
        assert same.get("/admin", headers={**JSON, **cookie}).status_code == 200
    with _client(storage, secret_key="s" * 32, password="a new password") as after:
        assert after.get("/admin", headers={**JSON, **cookie}).status_code == 401


# The one-time link


def test_the_sign_in_link_is_good_once(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    with _client(storage, password=None, signin_token=LINK) as client:
        assert client.get("/signin").status_code == 403, "the page says how to sign in"
        assert "sign-in link" in client.get("/signin").text
        signed = client.get("/signin", params={"token": LINK})
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        assert "HttpOnly" in signed.headers["set-cookie"]
        assert _upload(client) == 200
    # Another browser (or the same one, later) with the same link: refused, on any instance.
    with _client(storage, password=None, signin_token=LINK) as other:
        again = other.get("/signin", params={"token": LINK})
        assert again.status_code == 403 and "used already" in again.text
        assert other.get("/admin").status_code == 403
        assert other.get("/signin", params={"token": "guess"}).status_code == 403


def test_a_browsers_prefetch_does_not_use_up_the_link(tmp_path: Path) -> None:
    # Chromium prerenders a URL pasted in the address bar before Enter: a page it may throw
    # away (and its cookie with it). Such a request must leave the link good.
    storage = FilesystemStorage(tmp_path / "uploads")
    with _client(storage, password=None, signin_token=LINK) as client:
        for purpose in ({"Sec-Purpose": "prefetch;prerender"}, {"Purpose": "prefetch"}):
            early = client.get("/signin", params={"token": LINK}, headers=purpose)
            assert early.status_code == 503 and "set-cookie" not in early.headers
            assert early.headers["cache-control"] == "no-store"
        assert client.get("/signin", params={"token": LINK}).status_code == 303


def test_with_a_password_no_link_signs_in(tmp_path: Path) -> None:
    from demo_app import read_settings

    assert read_settings({"DEMO_PASSWORD": "pw", "DEMO_SIGNIN_TOKEN": LINK}).signin_token is None
    with _client(FilesystemStorage(tmp_path)) as client:
        assert client.get("/signin", params={"token": LINK}).status_code == 403


def test_a_guessable_sign_in_token_is_refused_at_start_up() -> None:
    # Set by hand for `uvicorn` (serve makes 256 bits): the link's strength is its length.
    from demo_app import read_settings
    from demo_app.settings import DemoSettingsError

    with pytest.raises(DemoSettingsError, match="DEMO_SIGNIN_TOKEN is too short"):
        read_settings({"DEMO_SIGNIN_TOKEN": "letmein"})
    assert read_settings({"DEMO_SIGNIN_TOKEN": LINK}).signin_token == LINK


@pytest.mark.parametrize("name", ["DEMO_PASSWORD", "DEMO_SECRET_KEY"])
def test_example_envs_placeholders_are_refused_at_start_up(name: str) -> None:
    # Uncommented as they stand, they are a password and a session key every reader knows.
    from demo_app import read_settings
    from demo_app.settings import DemoSettingsError

    text = (PROJECT_ROOT / "example.env").read_text(encoding="utf-8")
    (placeholder,) = re.findall(rf"^# {name}=(\S+)", text, re.MULTILINE)
    with pytest.raises(DemoSettingsError, match=f"{name} is example.env's placeholder"):
        read_settings({name: placeholder})


def test_another_sites_page_cannot_lock_the_operator_out(tmp_path: Path) -> None:
    # `<img src="https://demo.example/signin?token=x">` on any page the operator opens: the
    # browser sends it from the operator's own address, five times in a blink.
    storage = FilesystemStorage(tmp_path / "uploads")
    with _client(storage) as client:
        # With a password no link exists: a token is no guess at anything, and not counted.
        for guess in range(SIGN_IN_TRIES + 1):
            assert client.get("/signin", params={"token": f"x{guess}"}).status_code == 403
        assert client.post("/signin", data={"password": PASSWORD}).status_code == 303
    images = [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"},
        {"Referer": "https://evil.example/page"},
    ]
    with _client(storage, password=None, signin_token=LINK, address="198.51.100.2") as client:
        for headers in images * SIGN_IN_TRIES:
            assert client.get("/signin", params={"token": "x"}, headers=headers).status_code == 403
        assert client.get("/signin", params={"token": LINK}).status_code == 303


# One limiter


def test_one_clients_wrong_tries_never_refuse_another(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    app = create_app(storage, settings())
    clients = {
        address: TestClient(app, client=(address, 4000), follow_redirects=False)
        for address in ("198.51.100.1", "198.51.100.2", "2001:db8::1", "2001:db8::2")
    }
    for _ in range(SIGN_IN_TRIES):
        assert clients["198.51.100.1"].post("/signin", data={"password": "x"}).status_code == 401
        assert clients["2001:db8::1"].post("/signin", data={"password": "x"}).status_code == 401
    assert clients["198.51.100.1"].post("/signin", data={"password": PASSWORD}).status_code == 429
    assert clients["198.51.100.2"].post("/signin", data={"password": PASSWORD}).status_code == 303
    # One host is given a whole /64: its addresses are one client.
    assert clients["2001:db8::2"].post("/signin", data={"password": PASSWORD}).status_code == 429
    # Many addresses, a few tries each: nobody else is locked out by them.
    for index in range(40):
        spoofed = TestClient(app, client=(f"203.0.113.{index}", 4000))
        spoofed.post("/signin", data={"password": "x"})
    fresh = TestClient(app, client=("192.0.2.9", 4000), follow_redirects=False)
    assert fresh.post("/signin", data={"password": PASSWORD}).status_code == 303


def test_a_flood_of_addresses_keeps_the_limiters_table_bounded() -> None:
    # Many /64s (or spoofed X-Forwarded-For under FORWARDED_ALLOW_IPS='*'), one try each.
    limiter = SignInLimiter()
    for index in range(LIMITER_CLIENTS + 500):
        limiter.failed(f"2001:db8:{index >> 16:x}:{index & 0xFFFF:x}::1", now=100.0)
    assert len(limiter) == LIMITER_CLIENTS
    for _ in range(SIGN_IN_TRIES):
        limiter.failed("198.51.100.7", now=101.0)
    assert limiter.waiting("198.51.100.7", now=102.0) > 0, "the newest clients are kept"
    assert limiter.waiting("198.51.100.7", now=161.5) == 0
    assert len(limiter) == 0, "tries past the window are forgotten"


def test_bearer_tokens_and_the_form_share_one_limiter(tmp_path: Path) -> None:
    with _client(FilesystemStorage(tmp_path / "uploads")) as client:
        for _ in range(SIGN_IN_TRIES):
            # Refused by the middleware, before the body is read: counted all the same.
            assert _upload(client, Authorization="Bearer wrong") == 401
        form = client.post("/signin", data={"password": PASSWORD})
        assert form.status_code == 429 and int(form.headers["retry-after"]) > 0


def test_a_right_bearer_token_while_limited_is_429_not_401(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    with _client(storage) as client:
        for _ in range(SIGN_IN_TRIES):
            client.post("/signin", data={"password": "x"})
        right = {"Authorization": f"Bearer {PASSWORD}"}
        upload = client.post("/upload", files=[("files", ("a.jpg", image("JPEG")))], headers=right)
        assert upload.status_code == 429 and int(upload.headers["retry-after"]) > 0
        for answer in (client.get("/admin", headers=right),
                       client.delete("/api/photos/uploads/x.jpg", headers=right)):  # fmt: skip
            assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    assert storage.list_files("uploads/") == []


def test_a_password_beyond_ascii_works_as_a_bearer_token(tmp_path: Path) -> None:
    # curl and httpx send the header's UTF-8 bytes; read as Latin-1 they never matched.
    password = "pässwörd-Ünïcode"
    with _client(FilesystemStorage(tmp_path / "uploads"), password=password) as client:
        right = {"Authorization": f"Bearer {password}".encode()}
        assert client.get("/admin", headers={**JSON, **right}).status_code == 200
        wrong = {"Authorization": "Bearer pässwörd-Ünïcodé".encode()}
        assert client.get("/admin", headers={**JSON, **wrong}).status_code == 401


def test_a_signed_in_session_is_never_limited(tmp_path: Path) -> None:
    with _client(FilesystemStorage(tmp_path / "uploads")) as client:
        assert client.post("/signin", data={"password": PASSWORD}).status_code == 303
        for _ in range(SIGN_IN_TRIES + 1):
            client.get("/admin", headers={"Authorization": "Bearer wrong"})
        assert client.get("/admin").status_code == 200
        assert _upload(client, Origin="https://demo.example") == 200
        assert client.post("/signin", data={"password": "x"}).status_code == 303


# Logs


def test_failed_sign_ins_and_lock_outs_are_logged_without_a_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    storage = FilesystemStorage(tmp_path / "uploads")
    with _client(storage, address="198.51.100.4") as client:
        client.post("/signin", data={"password": "wrong-guess-1"})
        client.get("/admin", headers={"Authorization": "Bearer wrong-guess-2"})
        for guess in range(3, 3 + SIGN_IN_TRIES):
            client.post("/signin", data={"password": f"wrong-guess-{guess}"})
        client.get("/admin", headers={"Authorization": f"Bearer {PASSWORD}"})
    with _client(storage, password=None, signin_token=LINK) as client:
        client.get("/signin", params={"token": "wrong-guess-9"})
        client.get("/signin", params={"token": LINK})
        client.get("/signin", params={"token": LINK})
    # Every line the app logged (httpx's are the test client's own).
    lines = [record.getMessage() for record in caplog.records if record.name != "httpx"]
    assert "sign-in failed: a wrong password from 198.51.100.4" in lines
    assert "sign-in failed: a wrong bearer token from 198.51.100.4" in lines
    assert "sign-in failed: a wrong sign-in link from 198.51.100.1" in lines
    assert "sign-in failed: a used sign-in link from 198.51.100.1" in lines
    assert any(line.startswith("sign-in locked out: 198.51.100.4 made 5 wrong") for line in lines)
    text = "\n".join(lines)
    assert "wrong-guess" not in text and PASSWORD not in text and LINK not in text


def test_the_access_log_hides_the_links_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/signin?token={LINK}&x=1", "1.1", 303), None,
    )  # fmt: skip
    assert HideSignInLinks().filter(record)
    assert LINK not in record.getMessage() and "/signin?token=…&x=1" in record.getMessage()


def test_a_served_demo_logs_failed_sign_ins_with_the_time_and_no_secret(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
             "--port", str(port)],
            env={**os.environ, "DEMO_PASSWORD": "the-operators-password", "DEMO_SECRET_KEY": ""},
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{origin}/healthz", timeout=5)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        for guess in range(SIGN_IN_TRIES):
            httpx.post(f"{origin}/signin", data={"password": f"guess-{guess}"}, timeout=30)
        bearer = {"Authorization": "Bearer the-operators-password"}
        assert httpx.get(f"{origin}/admin", headers=bearer, timeout=30).status_code == 429
    finally:
        process.terminate()
        process.wait(timeout=20)
    printed = log.read_text()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING demo_app\.signin: "
    assert re.search(stamp + r"sign-in failed: a wrong password from 127\.0\.0\.1", printed)
    assert re.search(stamp + r"sign-in locked out: 127\.0\.0\.1", printed)
    assert "guess-" not in printed and "the-operators-password" not in printed
    assert "signin?token=" not in printed, "with a password, no link"
