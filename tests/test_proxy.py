"""The upload demo behind real nginx with TLS, as an operator deploys it: nginx's minimal
site (`proxy_pass` alone) and the standard one (Host, X-Forwarded-For, X-Forwarded-Proto,
body size), one instance or two behind one upstream, on a port or a unix socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Nginx, free_port
from .projects import PROJECT_ROOT, make_demo_project, posix_only
from .test_demo_app import image

PASSWORD = "operator-password"
SECRETS = {"DEMO_PASSWORD": PASSWORD, "DEMO_SECRET_KEY": "shared-key-" + "x" * 24}
# The site as docs/demo/deploying.md gives it (less listen, server_name and certificates,
# which the fixture writes).
STANDARD = """\
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      client_max_body_size 101m;
      proxy_read_timeout 60s;
      proxy_pass http://demo;"""
MINIMAL = "      proxy_pass http://{upstream};"


class Served:
    """`oppdemo serve` processes, and the address nginx reaches each at."""

    def __init__(self, tmp_path: Path) -> None:
        self.project = make_demo_project(tmp_path)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.folders: list[str] = []

    def start(self, *options: str, env: dict[str, str] | None = None, uds: bool = False) -> str:
        index = len(self.processes)
        log = self.project.parent / f"serve-{index}.log"
        if uds:
            # A socket's path must be short (104 bytes on macOS): not under a deep tmp_path.
            short = "/tmp" if Path("/tmp").is_dir() else None
            folder = tempfile.mkdtemp(prefix="oppdemo-", dir=short)
            self.folders.append(folder)
            path = Path(folder) / f"serve-{index}.sock"
            where, address = ["--uds", str(path)], f"unix:{path}"
        else:
            port = free_port()
            where, address = ["--port", str(port)], f"127.0.0.1:{port}"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(self.project),
                 "serve", *where, *options],
                env={**os.environ, **SECRETS, **(env or {})},
                stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        self.logs.append(log)
        deadline = time.monotonic() + 30
        while True:
            try:
                if uds:
                    with socket.socket(socket.AF_UNIX) as probe:
                        probe.connect(address.removeprefix("unix:"))
                else:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return address
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not start: {log.read_text()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    servers = Served(tmp_path)
    yield servers
    servers.stop()


def _client(site: Nginx, host: str = "demo.example", **options: Any) -> httpx.Client:
    """A client of nginx that names the site `host` (as if DNS said so) and checks nothing of
    its self-made certificate."""
    return httpx.Client(
        base_url=site.origin,
        headers={"Host": f"{host}:{site.port}"},
        verify=False,
        follow_redirects=False,
        timeout=30,
        **options,
    )


def _page_origin(site: Nginx, host: str = "demo.example") -> dict[str, str]:
    """What a browser sends with a form posted from the site's own page."""
    return {"Origin": f"https://{host}:{site.port}"}


def _upload(client: httpx.Client, **headers: str) -> httpx.Response:
    return client.post(
        "/upload",
        files=[("files", ("a.jpg", image("JPEG"), "image/jpeg"))],
        headers={"Accept": "application/json", **headers},
    )


def _anonymous_changes_are_refused(client: httpx.Client) -> None:
    """As the issue's curl: no cookie, no token, no Origin."""
    assert _upload(client).status_code == 401
    assert client.delete("/api/photos/uploads/x.jpg").status_code == 401
    assert client.get("/admin").status_code in (303, 401, 403)
    seed = client.post("/admin/seed")
    assert seed.status_code in (303, 401, 403), seed.text[:200]


def _sign_in(client: httpx.Client, site: Nginx, host: str = "demo.example") -> httpx.Response:
    return client.post("/signin", data={"password": PASSWORD}, headers=_page_origin(site, host))


def test_through_the_minimal_site_nobody_is_the_operator_by_address(
    nginx: Callable[..., Nginx], served: Served
) -> None:
    upstream = served.start()
    site = nginx(MINIMAL.format(upstream=upstream), [upstream])
    # nginx's bare proxy_pass sends `Host: 127.0.0.1:<port>` and no forwarding headers: to
    # the app, every visitor is a loopback client talking straight to it.
    with _client(site, host="127.0.0.1") as client:
        assert client.get("/").status_code == 200
        _anonymous_changes_are_refused(client)
    with _client(site) as client:
        assert client.get("/", headers={"Host": "127.0.0.1"}).status_code == 200
        # A browser's sign-in: refused, naming what the proxy must send, never a cookie that
        # would travel over plain HTTP.
        refused = _sign_in(client, site)
        assert refused.status_code == 403
        assert "X-Forwarded-Proto" in refused.json()["error"]
        assert "oppdemo_session" not in client.cookies


@pytest.mark.parametrize("listen", ["port", pytest.param("uds", marks=posix_only("unix sockets"))])
def test_through_the_standard_site_the_operator_signs_in_uploads_and_deletes(
    nginx: Callable[..., Nginx], served: Served, listen: str
) -> None:
    env = {"ALLOWED_HOSTS": "demo.example"}
    upstream = served.start("--proxy-headers", env=env, uds=listen == "uds")
    site = nginx(STANDARD, [upstream])
    with _client(site) as client:
        assert client.get("/").status_code == 200
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
        _anonymous_changes_are_refused(client)
        signed = _sign_in(client, site)
        assert signed.status_code == 303, signed.text[:300]
        cookie = signed.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie
        assert client.get("/admin").status_code == 200
        saved = _upload(client, **_page_origin(site))
        assert saved.status_code == 200, saved.text[:300]
        key = saved.json()["saved"][0]["key"]
        photo = client.get(saved.json()["saved"][0]["url"])
        assert photo.status_code == 200 and photo.content[:3] == b"\xff\xd8\xff"
        deleted = client.delete(f"/api/photos/{key}", headers=_page_origin(site))
        assert deleted.status_code == 204
        assert key not in {item["key"] for item in client.get("/api/photos").json()}


def _two_instances_behind_one_site(nginx: Callable[..., Nginx], served: Served) -> Nginx:
    """Two `serve` instances behind one standard site: nginx sends requests in turn."""
    env = {"ALLOWED_HOSTS": "demo.example"}
    upstreams = [served.start("--proxy-headers", env=env) for _ in range(2)]
    return nginx(STANDARD, upstreams)


def test_two_instances_behind_one_upstream_act_as_one(
    nginx: Callable[..., Nginx], served: Served
) -> None:
    site = _two_instances_behind_one_site(nginx, served)
    with _client(site) as client:
        assert _sign_in(client, site).status_code == 303
        # Round robin: each request goes to the other instance; each must know the session
        # and see the photo.
        saved = _upload(client, **_page_origin(site))
        assert saved.status_code == 200, saved.text[:300]
        key = saved.json()["saved"][0]["key"]
        for _ in range(2):
            assert client.get("/admin").status_code == 200
            listed = client.get("/api/photos").json()
            assert key in {item["key"] for item in listed}
            assert client.get(saved.json()["saved"][0]["url"]).status_code == 200
        assert client.delete(f"/api/photos/{key}", headers=_page_origin(site)).status_code == 204
        for _ in range(2):
            assert key not in {item["key"] for item in client.get("/api/photos").json()}
    for log in served.logs:
        assert "GET /admin" in log.read_text(), "both instances answered"


def _second_loopback() -> httpx.HTTPTransport:
    """A transport whose connections come from 127.0.0.2: a client on another address than
    the proxy's (Linux answers all of 127.0.0.0/8); skipped where there is none."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("needs a second loopback address (127.0.0.2), which only Linux has")
    return httpx.HTTPTransport(local_address="127.0.0.2", verify=False)


def test_the_access_log_shows_the_client_the_proxy_reports(
    nginx: Callable[..., Nginx], served: Served
) -> None:
    upstream = served.start("--proxy-headers", env={"ALLOWED_HOSTS": "demo.example"})
    site = nginx(STANDARD, [upstream])
    transport = _second_loopback()
    with _client(site, transport=transport) as client:
        assert client.get("/healthz").status_code == 200
        wrong = client.post("/signin", data={"password": "wrong"}, headers=_page_origin(site))
        assert wrong.status_code == 401
    time.sleep(0.5)  # the log line is written after the answer is sent
    lines = served.logs[0].read_text().splitlines()
    assert any('127.0.0.2 - "GET /healthz HTTP/1.0" 200' in line for line in lines), lines
    assert not any("127.0.0.2:0" in line for line in lines)
    assert not any("--proxy-headers" in line for line in lines), "no warning: it is given"
    assert PASSWORD not in "\n".join(lines) and "password=wrong" not in "\n".join(lines)


def test_the_operator_signs_in_from_chromium_through_the_standard_site(
    nginx: Callable[..., Nginx], served: Served, chromium: Any, tmp_path: Path
) -> None:
    # Chromium reaches the site as localhost (the certificate names it): no DNS to change.
    upstream = served.start("--proxy-headers", env={"ALLOWED_HOSTS": "demo.example,localhost"})
    site = nginx(STANDARD, [upstream])
    origin = f"https://localhost:{site.port}"
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(image("JPEG"))
    context = chromium.new_context(ignore_https_errors=True)
    problems: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("response", lambda answer: answer.status >= 400 and problems.append(answer.url))
    try:
        page.goto(f"{origin}/")
        assert page.locator("#viewer").count() == 1, "a visitor only views"
        page.goto(f"{origin}/signin")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        cookie = next(c for c in context.cookies() if c["name"] == "oppdemo_session")
        assert cookie["secure"] and cookie["httpOnly"]
        page.set_input_files("input[type=file]", str(photo))
        with page.expect_navigation():
            page.click("form.upload button[type=submit]")
        assert "Saved: holiday.jpg" in page.locator("#saved").inner_text()
        page.click("button.delete")
        page.wait_for_selector("figure img[alt^='uploads/']", state="detached", timeout=10_000)
        assert problems == [], "no console error, no failed request (the favicon is there)"
        page.goto(f"{origin}/no/such/page")
        assert page.locator("#not-found").count() == 1, "a browser gets the HTML 404 page"
    finally:
        context.close()


def test_wrong_tries_of_one_client_never_refuse_another_behind_the_proxy(
    nginx: Callable[..., Nginx], served: Served
) -> None:
    upstream = served.start("--proxy-headers", env={"ALLOWED_HOSTS": "demo.example"})
    site = nginx(STANDARD, [upstream])
    with _client(site, transport=_second_loopback()) as guesser:
        answers = [
            guesser.post("/signin", data={"password": f"guess-{n}"}, headers=_page_origin(site))
            for n in range(6)
        ]
    assert answers[-1].status_code == 429, [answer.status_code for answer in answers]
    with _client(site) as operator:
        assert _sign_in(operator, site).status_code == 303


@pytest.mark.parametrize("how", ["option", "environment"])
def test_forwarding_headers_count_only_from_the_proxies_named(
    nginx: Callable[..., Nginx], served: Served, how: str
) -> None:
    # nginx connects from 127.0.0.1, which is not the proxy named: its X-Forwarded-Proto is
    # ignored, the app sees plain HTTP, and a browser's sign-in is refused, naming it.
    env = {"ALLOWED_HOSTS": "demo.example"}
    if how == "option":
        upstream = served.start("--proxy-headers", "--forwarded-allow-ips", "10.0.0.1", env=env)
    else:
        upstream = served.start("--proxy-headers", env={**env, "FORWARDED_ALLOW_IPS": "10.0.0.1"})
    site = nginx(STANDARD, [upstream])
    with _client(site) as client:
        refused = _sign_in(client, site)
    assert refused.status_code == 403
    assert f"http://demo.example:{site.port}" in refused.json()["error"]


def test_serve_warns_when_the_proxys_headers_are_ignored(
    nginx: Callable[..., Nginx], served: Served
) -> None:
    upstream = served.start(env={"ALLOWED_HOSTS": "demo.example"})  # no --proxy-headers
    site = nginx(STANDARD, [upstream])
    with _client(site, transport=_second_loopback()) as client:
        for _ in range(2):
            assert client.get("/").status_code == 200
    time.sleep(0.5)  # the log line is written after the answer is sent
    warnings = [line for line in served.logs[0].read_text().splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings
    assert "--proxy-headers" in warnings[0] and "127.0.0.1" in warnings[0]


def test_after_sign_out_the_old_cookie_is_refused_by_every_instance(
    nginx: Callable[..., Nginx], served: Served
) -> None:
    site = _two_instances_behind_one_site(nginx, served)
    with _client(site) as client:
        assert _sign_in(client, site).status_code == 303
        old = client.cookies["oppdemo_session"]
        assert client.post("/signout", headers=_page_origin(site)).status_code == 303
    with _client(site, cookies={"oppdemo_session": old}) as replay:
        # Round robin: one request to each instance.
        for _ in range(2):
            assert replay.get("/admin").status_code in (303, 401, 403)
            assert _upload(replay, **_page_origin(site)).status_code == 401
