"""Real parts shared by the tests: an S3 server and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import socket as socket_module
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from oppdemo.storage.check import public_read_policy
from services.storage import FilesystemStorage, MemoryStorage, S3Storage, StorageInterface
from services.storage.config import S3Settings

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key-never-shown"


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """oppdemo's caches (remembered checksums) in the session's temp folder, not the user's,
    for this process and every command it starts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPPDEMO_CACHE_DIR", str(tmp_path_factory.mktemp("oppdemo-cache")))
        yield


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 server (moto) speaking HTTP on a free port of 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (free when the probe closes)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_process(**env: str) -> Iterator[str]:
    """A moto server in a process of its own, with `env` set (moto reads some settings only
    at start-up), on a free port of 127.0.0.1."""
    import os
    import socket
    import subprocess
    import sys
    import time

    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def strict_moto_endpoint() -> Iterator[str]:
    """A moto server in its own process that checks credentials on every request."""
    with moto_process(INITIAL_NO_AUTH_ACTION_COUNT="0") as endpoint:
        yield endpoint


@pytest.fixture
def storage_project(tmp_path: Path) -> Path:
    """A project with this repository's storage package, and no settings of its own."""
    import shutil

    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(
        root / "services", project / "services", ignore=shutil.ignore_patterns("__pycache__")
    )
    return project


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A new, empty bucket on the moto server."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    return name


def s3_client(endpoint: str, **options: Any) -> Any:
    """A boto3 client of the S3 server at `endpoint`, with the test keys."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        **options,
    )


def make_bucket_public(env: dict[str, str]) -> None:
    """Let anyone read the bucket's objects, as a bucket that serves public uploads does."""
    client = s3_client(env["S3_ENDPOINT_URL"])
    # The policy `storage check` recommends: these tests show that it works.
    policy = public_read_policy(env["S3_BUCKET"])
    client.put_bucket_policy(Bucket=env["S3_BUCKET"], Policy=json.dumps(policy))


@pytest.fixture
def s3_env(moto_endpoint: str, bucket: str) -> dict[str, str]:
    """Environment variables that select the moto bucket."""
    return {
        "STORAGE_TYPE": "s3",
        "S3_ACCESS_KEY": ACCESS_KEY,
        "S3_SECRET_KEY": SECRET_KEY,
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": moto_endpoint,
        "S3_MAX_ATTEMPTS": "2",
        "S3_CONNECT_TIMEOUT": "2",
        "S3_READ_TIMEOUT": "10",
    }


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def static_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, as a FastAPI app serves `static/`."""
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def make_s3_storage(env: dict[str, str], **overrides: Any) -> S3Storage:
    settings = S3Settings(
        bucket=env["S3_BUCKET"],
        access_key=env["S3_ACCESS_KEY"],
        secret_key=env["S3_SECRET_KEY"],
        endpoint_url=env["S3_ENDPOINT_URL"],
        max_attempts=2,
        connect_timeout=2,
        read_timeout=10,
    )
    return S3Storage(dataclasses.replace(settings, **overrides))


class ServedStorage:
    """A backend and the base address its relative URLs are fetched from."""

    def __init__(self, storage: StorageInterface, origin: str = "") -> None:
        self.storage = storage
        self.origin = origin

    def absolute(self, url: str) -> str:
        return url if url.startswith("http") else f"{self.origin}{url}"


def _served(kind: str, static_site: tuple[Path, str], s3_env: dict[str, str]) -> ServedStorage:
    root, origin = static_site
    if kind in ("s3", "s3-prefixed", "s3-cdn"):
        make_bucket_public(s3_env)
    if kind == "filesystem":
        return ServedStorage(FilesystemStorage(root / "static" / "uploads"), origin)
    if kind == "s3":
        return ServedStorage(make_s3_storage(s3_env))
    if kind == "s3-prefixed":
        return ServedStorage(make_s3_storage(s3_env, prefix="tenant/uploads/"))
    if kind == "s3-presigned":
        return ServedStorage(make_s3_storage(s3_env, presign=True, presign_expires=600))
    if kind == "s3-cdn":
        cdn = f"{s3_env['S3_ENDPOINT_URL']}/{s3_env['S3_BUCKET']}"
        return ServedStorage(make_s3_storage(s3_env, cdn_url=cdn))
    raise AssertionError(kind)


@pytest.fixture(params=["filesystem", "s3", "s3-prefixed", "s3-presigned", "s3-cdn"])
def served(request: pytest.FixtureRequest, static_site: tuple[Path, str]) -> ServedStorage:
    """Every backend whose URLs can be fetched over HTTP."""
    s3_env = request.getfixturevalue("s3_env") if request.param != "filesystem" else {}
    return _served(request.param, static_site, s3_env)


@pytest.fixture(params=["filesystem", "memory", "s3", "s3-prefixed"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageInterface:
    """Every backend, for the contract tests."""
    if request.param == "filesystem":
        return FilesystemStorage(tmp_path / "uploads")
    if request.param == "memory":
        return MemoryStorage()
    s3_env = request.getfixturevalue("s3_env")
    prefix = "tenant/uploads/" if request.param == "s3-prefixed" else ""
    return make_s3_storage(s3_env, prefix=prefix)


@pytest.fixture
def photos() -> Iterator[Any]:
    """A real HTTP server on 127.0.0.1 serving generated photos and bad answers."""
    from .photo_server import photo_server

    with photo_server(slow_seconds=3.0) as server:
        yield server


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write to: permission bits, or a read-only mount for root."""
    import os
    import sys

    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.name == "nt":
        pytest.skip("Windows has no read-only folders by permission bits")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("root ignores permission bits, and a read-only mount needs Linux here")
    with mounted_tmpfs(folder, "ro,size=1m", "root ignores permission bits, and"):
        yield folder


@contextmanager
def mounted_tmpfs(folder: Path, options: str, why: str = "") -> Iterator[Path]:
    """Mount a tmpfs with `options` at `folder` for the duration (root, Linux); else skip."""
    import subprocess

    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"{why} cannot mount a tmpfs here: {mounted.stderr.strip()}".strip())
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Chromium through Playwright: Debian's /usr/bin/chromium where it is, else
    Playwright's own; skipped, saying how to get one, when neither starts."""
    import os
    import shutil

    from playwright.sync_api import Error, sync_playwright

    candidates = (os.environ.get("OPPDEMO_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"))
    executable = next((c for c in candidates if c and Path(c).exists()), None)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_FLAGS
            )
        except Error as error:
            pytest.skip(
                "no Chromium to drive: install Debian's chromium (as .ci/run does) or run "
                f"`playwright install chromium` ({str(error).splitlines()[0]})"
            )
        yield browser
        browser.close()


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """A bucket that hangs: a TCP listener on 127.0.0.1 that accepts and never answers (as a
    stopped server's kernel would); closed after the test, which ends every wait on it."""
    with silent_listener() as server:
        yield server.url


@dataclasses.dataclass
class SilentServer:
    """A server that never answers: `url`, and the connections it accepted so far."""

    url: str
    accepted: list[Any]


@contextmanager
def silent_listener(accepting: bool = True) -> Iterator[SilentServer]:
    """A TCP listener on 127.0.0.1 that never answers. Accepting, it takes every connection
    and never sends a byte; not accepting, its queue is full, so the kernel drops every new
    connection attempt (a connect waits for its timeout), as a frozen server's does."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64 if accepting else 0)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    server = SilentServer(url, [])
    stop = threading.Event()
    fillers: list[socket.socket] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                server.accepted.append(listener.accept()[0])
            except OSError:
                return

    if accepting:
        threading.Thread(target=accept, daemon=True).start()
    else:
        # Fill the queue (a backlog of 0 holds one connection on Linux), then check that a
        # new connection now waits rather than being refused.
        fillers.append(socket.create_connection(listener.getsockname(), timeout=2))
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect(listener.getsockname())
            waits = False
        except TimeoutError:
            waits = True
        except OSError:
            waits = False
        fillers.append(probe)
        if not waits:
            for sock in [*fillers, listener]:
                sock.close()
            pytest.skip("this system refuses connections past a full queue, never drops them")
    try:
        yield server
    finally:
        stop.set()
        listener.close()
        for connection in [*server.accepted, *fillers]:
            connection.close()


@pytest.fixture(params=["accepts", "never accepts"])
def silent_server(request: pytest.FixtureRequest) -> Iterator[SilentServer]:
    """A server on 127.0.0.1 that never answers: one that accepts connections, one that
    never does."""
    with silent_listener(request.param == "accepts") as server:
        yield server


class HangingProxy:
    """An HTTP proxy on 127.0.0.1 in front of an S3 server that passes requests on, except
    those of the methods in `hang`, which it takes and never answers (a server that froze
    mid-run); `hung` is set when the first such request arrives."""

    def __init__(self, upstream: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        self.hang: set[str] = set()
        self.hung = threading.Event()
        self._released = threading.Event()
        proxy = self
        address = urlsplit(upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                if self.command in proxy.hang:
                    proxy.hung.set()
                    proxy._released.wait()  # until the test ends: never an answer
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream_connection = http.client.HTTPConnection(
                    address.hostname, address.port, timeout=30
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
                upstream_connection.request(self.command, self.path, body, headers)
                answer = upstream_connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream_connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def hanging_proxy(moto_endpoint: str) -> Iterator[HangingProxy]:
    """A proxy to the moto server that can be told to stop answering some requests."""
    proxy = HangingProxy(moto_endpoint)
    yield proxy
    proxy.close()


NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/opt/homebrew/bin/nginx")


def self_signed_certificate(folder: Path, *names: str) -> tuple[Path, Path]:
    """A certificate for `names` (and 127.0.0.1) signed by its own key, valid for a day."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alternatives = [x509.DNSName(name) for name in names]
    alternatives.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "site.crt", folder / "site.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclasses.dataclass
class Nginx:
    """An nginx this test started: its https origin on 127.0.0.1 and its error log."""

    origin: str
    port: int
    error_log: Path


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Any]:
    """Start real nginx (Debian's, as .ci/run installs it) as this user, on a free port of
    127.0.0.1 with TLS (a certificate for demo.example and localhost made here):
    `start(location, upstreams)` puts `location` (directives of `location /`) in the
    site, and names the upstream `demo` (`proxy_pass http://demo;`). Skipped when no nginx."""
    import os
    import shutil
    import signal
    import subprocess
    import time

    executable = next(
        (c for c in (os.environ.get("OPPDEMO_NGINX"), *NGINX_CANDIDATES) if c and Path(c).exists()),
        shutil.which("nginx"),
    )
    if executable is None:
        pytest.skip("no nginx to proxy with: install it (apt-get install nginx, as .ci/run does)")
    started: list[subprocess.Popen[bytes]] = []

    def start(location: str, upstreams: list[str]) -> Nginx:
        prefix = tmp_path / f"nginx-{len(started)}"
        prefix.mkdir()
        cert, key = self_signed_certificate(prefix, "demo.example", "localhost")
        port = free_port()
        servers = "\n".join(f"    server {address};" for address in upstreams)
        temp = "\n".join(
            f"  {kind}_temp_path {prefix / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # One process, no privileges dropped (as root it would switch to nobody, who cannot
        # read a private temp folder): the harness around the site; the site is as deployed.
        (prefix / "nginx.conf").write_text(
            f"daemon off;\nmaster_process off;\npid {prefix / 'nginx.pid'};\n"
            f"error_log {prefix / 'error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n  access_log off;\n{temp}\n"
            f"  upstream demo {{\n{servers}\n  }}\n"
            f"  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name demo.example;\n"
            f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
            f"    location / {{\n{location}\n    }}\n  }}\n}}\n"
        )
        process = subprocess.Popen(
            [executable, "-e", str(prefix / "error.log"), "-p", str(prefix),
             "-c", str(prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(process)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket_module.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (prefix / "error.log").read_text(errors="replace")
                    raise AssertionError(f"nginx did not start: {log}") from None
                time.sleep(0.05)
        return Nginx(f"https://127.0.0.1:{port}", port, prefix / "error.log")

    yield start
    for process in started:
        process.send_signal(signal.SIGQUIT if os.name != "nt" else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
