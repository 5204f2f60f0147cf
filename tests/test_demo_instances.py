"""Two `oppdemo serve` processes over one bucket, as a platform runs several instances."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, make_bucket_public
from .projects import PROJECT_ROOT, make_demo_project
from .test_demo_app import image

SECRETS = {"DEMO_PASSWORD": "shared-password", "DEMO_SECRET_KEY": "shared-key-" + "x" * 20}


@pytest.fixture
def instances(tmp_path: Path, s3_env: dict[str, str]) -> Iterator[list[str]]:
    make_bucket_public(s3_env)
    project = make_demo_project(tmp_path)
    processes, origins = [], []
    for _ in range(2):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
             "--port", str(port)],
            env={**os.environ, **s3_env, **SECRETS},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "serve failed"
                time.sleep(0.1)
        origins.append(f"http://127.0.0.1:{port}")
    yield origins
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_two_instances_share_photos_and_sessions(instances: list[str]) -> None:
    first, second = instances
    bearer = {"Authorization": f"Bearer {SECRETS['DEMO_PASSWORD']}"}
    saved = httpx.post(
        f"{first}/upload",
        files=[("files", ("a.jpg", image("JPEG"), "image/jpeg"))],
        headers={**bearer, "Accept": "application/json"},
        timeout=30,
    ).json()["saved"][0]
    listed = httpx.get(f"{second}/api/photos", timeout=30).json()
    assert saved["key"] in {item["key"] for item in listed}
    served = next(item["url"] for item in listed if item["key"] == saved["key"])
    assert httpx.get(served, timeout=30).content == httpx.get(saved["url"], timeout=30).content

    with httpx.Client(base_url=first, timeout=30) as browser:
        signed = browser.post("/signin", data={"password": SECRETS["DEMO_PASSWORD"]})
        assert signed.status_code == 303
        cookie = browser.cookies["oppdemo_session"]
    with httpx.Client(base_url=second, timeout=30) as other:
        assert other.get("/admin").status_code == 303, "not signed in here yet"
        other.cookies.set("oppdemo_session", cookie)
        assert other.get("/admin").status_code == 200, "the session of the first is accepted"
        deleted = other.delete(f"/api/photos/{saved['key']}")
        assert deleted.status_code == 204
        assert other.post("/signout").status_code == 303
    after = httpx.get(f"{first}/api/photos", timeout=30).json()
    assert saved["key"] not in {item["key"] for item in after}
    with httpx.Client(base_url=first, cookies={"oppdemo_session": cookie}, timeout=30) as old:
        assert old.get("/admin").status_code == 303, "signed out on the second: refused here"


def test_serve_takes_port_from_the_environment_and_runs_workers(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
         "--workers", "2"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, "serve failed"
                time.sleep(0.2)
        assert answer.status_code == 200 and "Photo uploads" in answer.text
    finally:
        process.terminate()
        process.wait(timeout=20)


def _start(
    command: list[str], cwd: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start a server whose output goes to `log`; wait for its port to answer."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
    port = int(command[command.index("--port") + 1])
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)


def _signed_in_everywhere(origin: str, cookie: str) -> list[int]:
    """/admin's status over 20 new connections (the kernel spreads them over the workers)."""
    return [
        httpx.get(f"{origin}/admin", cookies={"oppdemo_session": cookie}, timeout=30).status_code
        for _ in range(20)
    ]


def test_serve_workers_without_a_password_sign_in_by_the_printed_link(tmp_path: Path) -> None:
    project = make_demo_project(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    env = {"DEMO_PASSWORD": "", "DEMO_SECRET_KEY": ""}
    command = [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), "serve",
               "--port", str(port), "--workers", "2"]  # fmt: skip
    process = _start(command, project, env, log)
    try:
        import re

        (link,) = re.findall(r"http://\S+/signin\?token=(\S+)", log.read_text())
        origin = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{origin}/admin", timeout=30).status_code == 403, "no one by address"
        signed = httpx.get(f"{origin}/signin", params={"token": link}, timeout=30)
        assert signed.status_code == 303
        cookie = signed.cookies["oppdemo_session"]
        assert set(_signed_in_everywhere(origin, cookie)) == {200}
        again = httpx.get(f"{origin}/signin", params={"token": link}, timeout=30)
        assert again.status_code == 403 and "used already" in again.text
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert log.read_text().count(link) == 1, "printed once, never logged"


def test_uvicorn_workers_with_a_password_and_no_secret_key_share_sessions(
    tmp_path: Path,
) -> None:
    project = make_demo_project(tmp_path)
    port = free_port()
    env = {"DEMO_PASSWORD": "a-password-for-the-test", "DEMO_SECRET_KEY": ""}
    command = [sys.executable, "-m", "uvicorn", "demo_app.app:create_app", "--factory",
               "--port", str(port), "--workers", "2"]  # fmt: skip
    process = _start(command, project, env, tmp_path / "uvicorn.log")
    try:
        origin = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{origin}/admin", timeout=30).status_code == 303, "no one by address"
        signed = httpx.post(f"{origin}/signin", data={"password": env["DEMO_PASSWORD"]}, timeout=30)
        assert signed.status_code == 303
        assert set(_signed_in_everywhere(origin, signed.cookies["oppdemo_session"])) == {200}
    finally:
        process.terminate()
        process.wait(timeout=20)
