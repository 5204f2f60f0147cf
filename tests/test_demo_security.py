"""The upload demo on a public server: sign-in, sessions, CSRF, Host, headers, hostile input
and the photo pipeline, over HTTP (FastAPI's TestClient) on the filesystem and on S3."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demo_app import create_app
from demo_app.signin import SESSION_COOKIE, Sessions
from services.storage import FilesystemStorage, StorageInterface

from .conftest import free_port, make_bucket_public, make_s3_storage
from .projects import make_demo_project, run_cli
from .test_demo_app import OPERATOR, PASSWORD, image, settings

LOCAL = "http://127.0.0.1:8000"


@pytest.fixture(params=["filesystem", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageInterface:
    if request.param == "filesystem":
        return FilesystemStorage(tmp_path / "uploads", "/static/uploads")
    s3_env = request.getfixturevalue("s3_env")
    make_bucket_public(s3_env)
    return make_s3_storage(s3_env)


def _files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "image/jpeg")) for name, data in items]


def _operator_upload(storage: StorageInterface, *items: tuple[str, bytes]) -> dict[str, Any]:
    """Upload files as a signed-in operator; the JSON answer ({"saved": ..., "rejected": ...})."""
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        answer = client.post(
            "/upload", files=_files(*items), headers={"Accept": "application/json"}
        )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _public(storage: StorageInterface, **overrides: Any) -> TestClient:
    """A client of a server that anyone can reach (not loopback), with no credentials."""
    app = create_app(storage, settings(**overrides))
    return TestClient(app, base_url="https://demo.example", follow_redirects=False)


# Sign-in for changes


def test_viewing_is_open_and_changing_needs_an_operator(storage: StorageInterface) -> None:
    with _public(storage) as client:
        page = client.get("/")
        assert page.status_code == 200 and 'type="file"' not in page.text
        upload = client.post("/upload", files=_files(("a.jpg", image("JPEG"))))
        assert upload.status_code == 303 and upload.headers["location"] == "/signin"
        api = client.post(
            "/upload",
            files=_files(("a.jpg", image("JPEG"))),
            headers={"Accept": "application/json"},
        )
        assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
        assert client.delete("/api/photos/uploads/x.jpg").status_code == 401
        assert client.get("/admin", follow_redirects=False).status_code == 303
        wrong = client.post("/upload", files=_files(("a.jpg", image("JPEG"))),
                            headers={"Authorization": "Bearer wrong"})  # fmt: skip
        assert wrong.status_code == 401
    assert storage.list_files() == []


def test_without_a_password_the_refusal_names_the_variable(storage: StorageInterface) -> None:
    with _public(storage, password=None) as client:
        answer = client.post("/upload", files=_files(("a.jpg", image("JPEG"))))
        assert answer.status_code == 403 and "DEMO_PASSWORD" in answer.text
        assert client.get("/signin").status_code == 403
    assert storage.list_files() == []


def test_a_loopback_client_is_no_one_special(tmp_path: Path) -> None:
    """A browser on 127.0.0.1 and a local proxy look alike: neither is trusted by address."""
    storage = FilesystemStorage(tmp_path / "uploads")
    storage.save_file(image("JPEG"), "uploads/keep.jpg")
    for password in (None, PASSWORD):
        app = create_app(storage, settings(password=password))
        with TestClient(app, base_url=LOCAL, client=("127.0.0.1", 5000)) as client:
            json_api = {"Accept": "application/json"}
            upload = client.post(
                "/upload", files=_files(("a.jpg", image("JPEG"))), headers=json_api
            )
            assert upload.status_code == 401
            assert client.delete("/api/photos/uploads/keep.jpg").status_code == 401
            assert client.get("/admin", follow_redirects=False).status_code in (303, 403)
            assert client.post("/admin/seed", follow_redirects=False).status_code in (303, 403)
            assert 'type="file"' not in client.get("/").text
    assert storage.list_files("uploads/") == ["uploads/keep.jpg"]


def test_sign_in_sets_a_safe_cookie_and_is_rate_limited(storage: StorageInterface) -> None:
    with _public(storage) as client:
        wrong = client.post("/signin", data={"password": "nope"})
        assert wrong.status_code == 401 and "Wrong password" in wrong.text
        right = client.post("/signin", data={"password": PASSWORD}, follow_redirects=False)
        assert right.status_code == 303
        cookie = right.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        for attribute in ("HttpOnly", "SameSite=lax", "Secure"):
            assert attribute.lower() in cookie.lower()
        same_site = {"Origin": "https://demo.example"}
        upload = client.post("/upload", files=_files(("a.jpg", image("JPEG"))), headers=same_site)
        assert upload.status_code == 303 and "saved=" in upload.headers["location"]
    with _public(storage) as client:
        for _ in range(5):
            client.post("/signin", data={"password": "nope"})
        limited = client.post("/signin", data={"password": PASSWORD})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert len(storage.list_files("uploads/")) == 1


def test_sessions_travel_between_instances_with_the_same_key(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    first, second = create_app(storage, settings()), create_app(storage, settings())
    other = create_app(storage, settings(secret_key="x" * 32))
    with TestClient(first, base_url="https://a.example") as client:
        client.post("/signin", data={"password": PASSWORD})
        token = client.cookies[SESSION_COOKIE]
    for app, accepted in ((second, True), (other, False)):
        with TestClient(app, base_url="https://b.example", cookies={SESSION_COOKIE: token}) as c:
            status = c.get("/admin", follow_redirects=False).status_code
            assert (status == 200) is accepted
    sessions = Sessions("k" * 32)
    issued = sessions.issue(now=1000.0)
    assert sessions.valid(issued, now=1001.0)
    assert not sessions.valid(issued, now=1000.0 + 13 * 3600), "expired"
    assert not sessions.valid(issued[:-1] + ("0" if issued[-1] != "0" else "1"), now=1001.0)
    assert not sessions.valid("9999999999.forged", now=1001.0)


# CSRF, headers, hostile input


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_change_from_another_site_is_refused(tmp_path: Path, headers: dict[str, str]) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    with _public(storage) as client:
        client.post("/signin", data={"password": PASSWORD})
        answer = client.post("/upload", files=_files(("a.jpg", image("JPEG"))), headers=headers)
        assert answer.status_code == 403 and "CSRF" in answer.text
        storage.save_file(image("JPEG"), "uploads/keep.jpg")
        assert client.delete("/api/photos/uploads/keep.jpg", headers=headers).status_code == 403
    assert storage.list_files("uploads/") == ["uploads/keep.jpg"]


def test_bearer_calls_and_scripts_are_not_browsers(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    with _public(storage) as client:
        evil = {"Origin": "https://evil.example", **OPERATOR}
        answer = client.post("/upload", files=_files(("a.jpg", image("JPEG"))), headers=evil)
        assert answer.status_code == 200, "a bearer call is exempt from the origin rule"
        assert len(answer.json()["saved"]) == 1
    assert len(storage.list_files("uploads/")) == 1


def test_every_answer_carries_the_security_headers(storage: StorageInterface) -> None:
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        saved = client.post(
            "/upload",
            files=_files(("a.jpg", image("JPEG"))),
            headers={"Accept": "application/json"},
        ).json()["saved"][0]
        answers = [client.get("/"), client.get("/api/photos"), client.get("/missing")]
        if saved["url"].startswith("/"):
            served = client.get(saved["url"])
            answers.append(served)
            assert served.headers["content-disposition"].startswith("inline; filename=")
        for answer in answers:
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "same-origin"
            policy = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
            assert "form-action 'self'" in policy
        if saved["url"].startswith("http"):
            origin = "/".join(saved["url"].split("/")[:3])
            assert origin in answers[0].headers["content-security-policy"]
        assert "<script>" not in answers[0].text and "<style>" not in answers[0].text


@pytest.mark.parametrize(
    ("host", "status"),
    [("localhost:8000", 200), ("127.0.0.1:8000", 200), ("[::1]:8000", 200),
     ("evil.example", 400), ("localhost.evil.example", 400)],
)  # fmt: skip
def test_a_loopback_server_answers_only_loopback_names(
    tmp_path: Path, host: str, status: int
) -> None:
    app = create_app(FilesystemStorage(tmp_path / "uploads"), settings())
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/", headers={"Host": host}).status_code == status


def test_allowed_hosts_on_a_public_server(tmp_path: Path) -> None:
    app = create_app(FilesystemStorage(tmp_path), settings(allowed_hosts=("demo.example",)))
    with TestClient(app, base_url="https://demo.example") as client:
        assert client.get("/").status_code == 200
        assert client.get("/", headers={"Host": "other.example"}).status_code == 400


@pytest.mark.parametrize(
    ("host", "status"),
    [("demo.example", 200), ("demo.example:8443", 200), ("localhost:8000", 400),
     ("evil.example", 400)],
)  # fmt: skip
def test_allowed_hosts_is_honoured_on_loopback_too(tmp_path: Path, host: str, status: int) -> None:
    # A proxy on this machine connects on loopback, with the site's name as Host.
    app = create_app(FilesystemStorage(tmp_path), settings(allowed_hosts=("demo.example",)))
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/", headers={"Host": host}).status_code == status


def test_probes_answer_whatever_the_host(tmp_path: Path) -> None:
    # A load balancer addresses its health checks by IP.
    app = create_app(FilesystemStorage(tmp_path), settings(allowed_hosts=("demo.example",)))
    with TestClient(app, base_url="http://10.0.0.5:8000") as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 400


def test_a_cross_site_refusal_says_which_origin_the_server_sees(tmp_path: Path) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        answer = client.post("/signin", data={"password": PASSWORD},
                             headers={"Origin": "https://elsewhere.example"})  # fmt: skip
    assert answer.status_code == 403
    assert "https://demo.example" in answer.json()["error"]
    assert "X-Forwarded-Proto" in answer.json()["error"]


def test_odd_query_strings_are_not_errors(tmp_path: Path) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        page = client.get("/?rejected=foo&rejected=&saved=%3Cb%3E&error=%00")
        assert page.status_code == 200 and "&lt;b&gt;" in page.text


def test_a_chunked_body_over_the_limit_is_413(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    limited = settings(max_upload_bytes=int(0.1 * 1024 * 1024))
    with TestClient(create_app(storage, limited), headers=OPERATOR) as client:

        def chunks() -> Any:
            for _ in range(40):
                yield b"x" * 65536

        answer = client.post(
            "/upload",
            content=chunks(),
            headers={
                "Content-Type": "multipart/form-data; boundary=b",
                "Accept": "application/json",
            },
        )
        assert answer.status_code == 413
    assert storage.list_files() == []


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "0.01", "2048", "ten"])
def test_serve_refuses_an_upload_limit_out_of_range(tmp_path: Path, value: str) -> None:
    project = make_demo_project(tmp_path)
    result = run_cli(project, "serve", "--port", str(free_port()), env={"UPLOAD_MAX_MB": value})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"UPLOAD_MAX_MB={value!r}" in result.stderr and "0.1 to 1024" in result.stderr


def test_serve_on_a_public_address_needs_a_password_or_open(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    result = run_cli(project, "serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2 and "DEMO_PASSWORD" in result.stderr and "--open" in result.stderr


# The photo pipeline


def _phone_photo() -> bytes:
    """A 40x20 JPEG with a GPS position and EXIF orientation 6 (shot with the phone turned)."""
    picture = Image.new("RGB", (40, 20), "red")
    picture.paste((0, 0, 255), (0, 0, 10, 20))  # the left of the sensor is blue
    exif = Image.Exif()
    exif[0x0112] = 6
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 2.0)})
    exif[0x010E] = "holiday, with maker notes"
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", exif=exif, comment=b"a comment")
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the test photo has GPS"
    return data


def test_a_phone_photo_is_stored_upright_without_gps(storage: StorageInterface) -> None:
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        saved = client.post(
            "/upload", files=_files(("phone.jpg", _phone_photo())),
            headers={"Accept": "application/json"},
        ).json()["saved"][0]  # fmt: skip
        stored = Image.open(io.BytesIO(storage.get_file(saved["key"])))
        assert stored.size == (20, 40), "turned upright"
        exif = stored.getexif()
        assert not exif.get_ifd(0x8825) and 0x0112 not in exif and 0x010E not in exif
        assert "comment" not in stored.info and "xmp" not in stored.info
        thumb_key = "thumbs/" + saved["key"].removeprefix("uploads/").rpartition(".")[0] + ".webp"
        thumb = Image.open(io.BytesIO(storage.get_file(thumb_key)))
        assert thumb.format == "WEBP" and thumb.size == (20, 40)
        assert client.delete(f"/api/photos/{saved['key']}").status_code == 204
        assert storage.list_files() == [], "the thumbnail goes with the photo"


def test_a_decompression_bomb_and_a_damaged_image_are_refused(tmp_path: Path) -> None:
    bomb = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(bomb, "PNG")  # 50 MP, a few kilobytes
    damaged = image("PNG")[:60]
    storage = FilesystemStorage(tmp_path / "uploads")
    result = _operator_upload(storage, ("bomb.png", bomb.getvalue()), ("bad.png", damaged))
    reasons = {item["name"]: item["reason"] for item in result["rejected"]}
    assert "40 MP limit" in reasons["bomb.png"]
    assert "damaged" in reasons["bad.png"] or "decoded" in reasons["bad.png"]
    assert storage.list_files() == []


def test_an_animated_gif_keeps_its_frames(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (16, 16), colour) for colour in colours]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 3
    storage = FilesystemStorage(tmp_path / "uploads")
    key = _operator_upload(storage, ("anim.gif", buffer.getvalue()))["saved"][0]["key"]
    assert Image.open(io.BytesIO(storage.get_file(key))).n_frames == 3


# The admin page


def test_the_admin_page_checks_the_storage_and_shows_the_drift(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "uploads")
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        page = client.get("/admin")
        assert page.status_code == 200 and 'id="drift"' in page.text
        checked = client.post("/admin/check")
        assert checked.status_code == 200 and 'id="steps"' in checked.text
        assert "probe read back" in checked.text
        assert "save" not in {form.split('"')[0] for form in page.text.split('action="/admin/')[1:]}
    with _public(storage) as client:
        assert client.post("/admin/check", follow_redirects=False).status_code == 303


def test_json_errors_are_json(tmp_path: Path) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        answer = client.post("/upload", headers={"Accept": "application/json"})
        assert answer.status_code == 401 and json.loads(answer.text)["error"]


def test_the_admin_page_seeds_the_sample_photos(
    tmp_path: Path, photos: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = tmp_path / "catalog.json"
    entry = {"name": "red.jpg", "url": photos.url("photos/red.jpg"), "description": "red"}
    catalog.write_text(json.dumps({"photos": [entry]}))
    monkeypatch.setenv("SAMPLE_PHOTOS_CATALOG", str(catalog))
    storage = FilesystemStorage(tmp_path / "uploads")
    with TestClient(create_app(storage, settings()), headers=OPERATOR) as client:
        seeded = client.post("/admin/seed")
    assert seeded.status_code == 200 and "Sample photos: 1 downloaded" in seeded.text
    assert storage.list_files("sample_photos/") == ["sample_photos/red.jpg"]


def test_an_animation_too_large_to_decode_is_refused(tmp_path: Path) -> None:
    # 200 frames of 1000x1000: each frame is under 40 MP, all of them are 200 MP.
    frames = [Image.new("P", (1000, 1000), index % 2) for index in range(200)]
    for index, frame in enumerate(frames):
        frame.putpixel((index, 0), 1 - index % 2)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 200
    storage = FilesystemStorage(tmp_path / "uploads")
    result = _operator_upload(storage, ("anim.gif", buffer.getvalue()))
    assert "limit for an animation" in result["rejected"][0]["reason"]
    assert storage.list_files() == []


# What a hostile visitor tried


@pytest.mark.parametrize("cookie", ["9" * 5000 + ".x", "1.2.3", ".", "x" * 10_000])
def test_a_crafted_session_cookie_is_just_not_signed_in(tmp_path: Path, cookie: str) -> None:
    # Digits that are not ASCII ('²', which a raw client can send) pass isdigit() alone.
    assert not Sessions("k" * 32).valid("\u00b2.x")
    with _public(FilesystemStorage(tmp_path)) as client:
        client.cookies.set(SESSION_COOKIE, cookie)
        assert client.get("/").status_code == 200
        assert client.get("/admin").status_code == 303


def test_a_crafted_gif_is_refused_not_a_500(tmp_path: Path) -> None:
    crafted = bytes.fromhex(
        "474946383761090009004800000000002c00000000090009000008116c01081c48b0a0c18308132a5c"
        "c8706040006d2cbb3b"
    )
    storage = FilesystemStorage(tmp_path / "uploads")
    assert _operator_upload(storage, ("c.gif", crafted))["rejected"]
    assert storage.list_files() == []


@pytest.mark.parametrize("host", ["127.0.0.1:8000@evil.example", "[::1]evil", "localhost:x"])
def test_odd_host_headers_are_refused(tmp_path: Path, host: str) -> None:
    app = create_app(FilesystemStorage(tmp_path / "uploads"), settings())
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/", headers={"Host": host}).status_code == 400


def test_a_visitors_upload_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    from .projects import PROJECT_ROOT

    project = make_demo_project(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
         "--port", str(port)],
        env={**os.environ, "DEMO_PASSWORD": "pw"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        with connection:
            # A 100 MB upload announced, 1 KB sent: the answer comes without the rest.
            connection.sendall(
                b"POST /upload HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.5\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 104857600\r\n\r\n" + b"x" * 1024
            )
            answer = connection.recv(4096)
        assert answer.startswith(b"HTTP/1.1 303") and b"location: /signin" in answer.lower()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_link_cannot_write_the_pages_alert(tmp_path: Path) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        page = client.get("/?error=Site+moved,+sign+in+at+https://evil.example")
    assert "evil.example" not in page.text


# What a hostile visitor tried, second round


def test_a_bearer_token_is_a_sign_in_try_limited_like_the_form(tmp_path: Path) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        for guess in range(5):
            wrong = client.get("/admin", headers={"Authorization": f"Bearer guess{guess}"})
            assert wrong.status_code in (303, 401)
        # Limited now: even the right password is not compared, so a guess tells nothing.
        right = client.get("/admin", headers={"Authorization": f"Bearer {PASSWORD}"})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        form = client.post("/signin", data={"password": PASSWORD})
        assert form.status_code == 429


def test_a_non_ascii_session_signature_is_not_a_500(tmp_path: Path) -> None:
    assert not Sessions("k" * 32).valid("9999999999.\u00e9")
    with _public(FilesystemStorage(tmp_path)) as client:
        answer = client.get("/", headers={"Cookie": f'{SESSION_COOKIE}="9999999999.\\351"'})
        assert answer.status_code == 200


@pytest.mark.parametrize("number", ["1e400", "NaN", "-Infinity"])
def test_a_number_json_cannot_write_back_is_a_422_not_a_500(tmp_path: Path, number: str) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        body = f'{{"name": "a.png", "size": {number}, "type": "image/png"}}'
        answer = client.post(
            "/api/uploads", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code in (401, 422), answer.text
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_large_body_is_refused_unread_on_every_route_but_upload(tmp_path: Path) -> None:
    with _public(FilesystemStorage(tmp_path)) as client:
        big = b'{"name": "' + b"a" * 200_000 + b'", "size": 1, "type": "image/png"}'
        answer = client.post(
            "/api/uploads", content=big, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 413
        chunked = client.post(
            "/signin", content=iter([b"password=" + b"a" * 100_000]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert chunked.status_code == 413


def test_a_gif_whose_canvas_grows_at_a_later_frame_is_refused_unread(tmp_path: Path) -> None:
    """A 1x1 first frame, then a 9000x9000 one: 120 KB that would decode into 81 MP."""
    import struct

    first, big = io.BytesIO(), io.BytesIO()
    Image.new("P", (1, 1), 0).save(first, "GIF")
    Image.new("P", (9000, 9000), 1).save(big, "GIF")

    def frame(data: bytes) -> bytes:
        start = data.index(b"\x2c")
        descriptor, rest = data[start : start + 10], data[start + 10 :]
        if descriptor[9] & 0x80:  # drop the local colour table
            rest = rest[3 * 2 ** ((descriptor[9] & 7) + 1) :]
            descriptor = descriptor[:9] + bytes([descriptor[9] & 0x7F])
        return b"\x21\xf9\x04\x00\x0a\x00\x00\x00" + descriptor + rest[:-1]

    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00" * 3 + b"\xff" * 3
    bomb = header + frame(first.getvalue()) + frame(big.getvalue()) + b"\x3b"
    assert len(bomb) < 200_000
    storage = FilesystemStorage(tmp_path / "uploads")
    result = _operator_upload(storage, ("bomb.gif", bomb))
    assert "9000x9000 pixels is over the 40 MP limit" in result["rejected"][0]["reason"]
    assert storage.list_files() == []
