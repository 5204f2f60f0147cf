"""Load check of the upload demo: 20 concurrent clients upload 200 photos of 200 KB each;
then 2 MB photos through nginx (TLS) against straight to `serve`, in the same run.

    uv run python benchmarks/bench_upload.py            # everything
    uv run python benchmarks/bench_upload.py --only proxy

The demo runs as users run it (`oppdemo.py serve`, uvicorn) on 127.0.0.1: on the filesystem
with one worker and with two (`--workers 2`), then on S3 (a moto server in its own process).
Each photo is a real JPEG that goes through the photo pipeline (decoded, cleaned, re-encoded,
a thumbnail made); it must come back in the listing and serve exactly the bytes the pipeline
makes of it (computed here with the demo's own `clean_photo`). Prints throughput, latencies
and the ratio of two workers to one. The proxied path: one `serve --proxy-headers` with Debian's
nginx in front (the site of docs/demo/deploying.md); the same 2 MB photos go to nginx and
straight to serve, and the ratio of the two wall times is checked against 1.2x. Every client
signs in with a bearer token (DEMO_PASSWORD), as an API client would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import urllib3
from servers import free_port, start_moto, start_nginx, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
CLIENTS, PHOTOS, SIZE = 20, 200, 200 * 1024
# The operator, as an API client signs in: nobody is trusted by address.
PASSWORD = "bench-operator-password"
OPERATOR = {"Authorization": f"Bearer {PASSWORD}"}


def start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command,
        env={**os.environ, "DEMO_PASSWORD": PASSWORD, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process


def photo(index: int, size: int = SIZE) -> bytes:
    """A distinct JPEG of about `size` bytes (noise compresses badly: 1.85 bytes a pixel)."""
    import io

    from PIL import Image

    side = int((size / 1.85) ** 0.5)
    buffer = io.BytesIO()
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    noise.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def stored_form(body: bytes) -> bytes:
    """What the demo's pipeline stores for `body`: the bytes the check expects back."""
    import io

    sys.path.insert(0, str(ROOT))
    from demo_app.photos import clean_photo

    return clean_photo(io.BytesIO(body)).data


def load(
    origin: str,
    direct: bool = False,
    bodies: list[bytes] | None = None,
    clients: int = CLIENTS,
    pool: urllib3.PoolManager | None = None,
) -> tuple[float, list[float], int, int]:
    """Upload every photo with `clients` at once (through the app, or straight to the bucket
    with a presigned POST and a confirm); check each is listed and served as stored. Returns
    the wall time, the latencies, the photos intact, and the bytes sent to the app."""
    import json

    pool = pool or urllib3.PoolManager(maxsize=clients)
    bodies = bodies or [photo(index) for index in range(PHOTOS)]
    count = len(bodies)
    to_app = [0] * count

    def proxied(index: int) -> str:
        fields = {"files": (f"photo-{index}.jpg", bodies[index], "image/jpeg")}
        body, content_type = urllib3.encode_multipart_formdata(fields)
        to_app[index] += len(body)
        answer = pool.request(
            "POST", f"{origin}/upload", body=body,
            headers={"Accept": "application/json", "Content-Type": content_type, **OPERATOR},
        )  # fmt: skip
        assert answer.status == 200, answer.data[:200]
        saved = answer.json()["saved"]
        assert len(saved) == 1, answer.json()
        return str(saved[0]["key"])

    def app_json(index: int, path: str, payload: object = None) -> dict:
        body = json.dumps(payload).encode() if payload is not None else b""
        to_app[index] += len(body)
        answer = pool.request(
            "POST", f"{origin}{path}", body=body,
            headers={"Accept": "application/json", "Content-Type": "application/json",
                     **OPERATOR},
        )  # fmt: skip
        assert answer.status == 200, answer.data[:200]
        return answer.json()  # type: ignore[no-any-return]

    def straight(index: int) -> str:
        data = bodies[index]
        ticket = {"name": f"photo-{index}.jpg", "size": len(data), "type": "image/jpeg"}
        signed = app_json(index, "/api/uploads", ticket)
        fields = {**signed["fields"], "file": (f"photo-{index}.jpg", data, "image/jpeg")}
        posted = pool.request("POST", signed["url"], fields=fields)
        assert posted.status < 300, posted.data[:200]
        return str(app_json(index, f"/api/uploads/{signed['id']}/confirm")["saved"][0]["key"])

    def upload(index: int) -> tuple[float, str]:
        started = time.perf_counter()
        key = (straight if direct else proxied)(index)
        return time.perf_counter() - started, key

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as senders:
        results = list(senders.map(upload, range(count)))
    wall = time.perf_counter() - started
    keys = {key: stored_form(bodies[index]) for index, (_, key) in enumerate(results)}
    listed = {item["key"]: item for item in pool.request("GET", f"{origin}/api/photos").json()}
    intact = 0
    for key, body in keys.items():
        url = listed[key]["url"]
        served = pool.request("GET", url if url.startswith("http") else f"{origin}{url}")
        intact += served.status == 200 and served.data == body
    return wall, [elapsed for elapsed, _ in results], intact, sum(to_app)


# The proxied path: fewer, larger photos (a phone's, resized), fewer clients (two cores).
PROXY_CLIENTS, PROXY_PHOTOS, PROXY_SIZE = 4, 40, 2 * 1024 * 1024
PROXY_TARGET = 1.2
PROXY_ROUNDS = 4


def through_nginx() -> bool:
    """The same 2 MB photos to one `serve --proxy-headers`, straight and through nginx with
    TLS, in alternating rounds; True if nginx costs at most PROXY_TARGET times the time."""
    bodies = [photo(index, PROXY_SIZE) for index in range(PROXY_PHOTOS)]
    with tempfile.TemporaryDirectory(prefix="oppdemo-bench-") as folder:
        project = Path(folder) / "app"
        project.mkdir()
        shutil.copy(ROOT / "pyproject.toml", project)
        for part in ("services", "demo_app"):
            shutil.copytree(ROOT / part, project / part)
        port = free_port()
        server = start([sys.executable, str(ROOT / "oppdemo.py"), "-C", str(project), "serve",
                        "--port", str(port), "--proxy-headers"], port, {})  # fmt: skip
        (Path(folder) / "nginx").mkdir()
        nginx = start_nginx(Path(folder) / "nginx", port)
        if nginx is None:
            server.terminate()
            server.wait()
            print("proxied: skipped, no nginx (apt-get install nginx)")
            return True
        proxy, proxy_origin = nginx
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        tls = urllib3.PoolManager(maxsize=PROXY_CLIENTS, cert_reqs="CERT_NONE")
        paths = [
            ("straight to serve", f"http://127.0.0.1:{port}", None),
            ("through nginx (TLS)", proxy_origin, tls),
        ]
        latencies: dict[str, list[float]] = {label: [] for label, _, _ in paths}
        intact = dict.fromkeys(latencies, 0)
        walls = dict.fromkeys(latencies, 0.0)
        try:
            # Rounds in alternating order (A B, B A, ...): on a shared machine the load drifts,
            # and each path gets as much of it.
            for round_ in range(PROXY_ROUNDS):
                share = bodies[round_::PROXY_ROUNDS]
                for label, origin, pool in paths if round_ % 2 == 0 else paths[::-1]:
                    wall, times, whole, _ = load(
                        origin, bodies=share, clients=PROXY_CLIENTS, pool=pool
                    )
                    walls[label] += wall
                    latencies[label] += times
                    intact[label] += whole
        finally:
            proxy.terminate()
            proxy.wait()
            server.terminate()
            server.wait()
    for label, times in latencies.items():
        p95 = statistics.quantiles(times, n=20)[18]
        print(
            f"{label:<22} {PROXY_PHOTOS} photos x {PROXY_SIZE // 2**20} MB, "
            f"{PROXY_CLIENTS} clients: {PROXY_PHOTOS / walls[label]:5.1f} photos/s, "
            f"p50 {statistics.median(times) * 1000:5.0f} ms, p95 {p95 * 1000:5.0f} ms; "
            f"{intact[label]}/{PROXY_PHOTOS} intact"
        )
    if set(intact.values()) != {PROXY_PHOTOS}:
        return False
    ratio = walls["through nginx (TLS)"] / walls["straight to serve"]
    within = ratio <= PROXY_TARGET
    print(
        f"proxied: nginx (TLS) / straight = {ratio:.2f}x  target <= {PROXY_TARGET}x  "
        f"{'ok' if within else 'MISSED'}"
    )
    return within


def python_start() -> float:
    """`python -c pass`, best of five, in ms: how fast this machine is right now."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("load", "proxy"), help="run one part")
    part = parser.parse_args().only
    print(f"python -c pass: {python_start():.0f} ms")
    ok = True
    if part in (None, "load"):
        ok &= load_check()
    if part in (None, "proxy"):
        ok &= through_nginx()
    return 0 if ok else 1


def load_check() -> bool:
    moto, endpoint = start_moto()
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench",
                      aws_secret_access_key="bench-secret", region_name="us-east-1")  # fmt: skip
    s3.create_bucket(Bucket="uploads")
    s3_env = {
        "STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "bench", "S3_SECRET_KEY": "bench-secret",
        "S3_BUCKET": "uploads", "S3_ENDPOINT_URL": endpoint, "S3_PRESIGN": "true",
    }  # fmt: skip
    runs = [("filesystem", {}, 1, False), ("filesystem", {}, 2, False),
            ("s3", s3_env, 1, False), ("s3", s3_env, 1, True)]  # fmt: skip
    through_app: dict[bool, int] = {}
    ok = True
    throughput: dict[int, float] = {}
    try:
        for name, env, workers, direct in runs:
            with tempfile.TemporaryDirectory(prefix="oppdemo-bench-") as folder:
                project = Path(folder)
                shutil.copy(ROOT / "pyproject.toml", project)
                for part in ("services", "demo_app"):
                    shutil.copytree(ROOT / part, project / part)
                port = free_port()
                server = start([sys.executable, str(ROOT / "oppdemo.py"), "-C", str(project),
                                "serve", "--port", str(port), "--workers", str(workers)],
                               port, env)  # fmt: skip
                try:
                    wall, latencies, intact, sent = load(f"http://127.0.0.1:{port}", direct)
                finally:
                    server.terminate()
                    server.wait()
            p95 = statistics.quantiles(latencies, n=20)[18]
            whole = intact == PHOTOS
            ok &= whole
            if name == "filesystem":
                throughput[workers] = PHOTOS / wall
            if name == "s3":
                through_app[direct] = sent
            how = "direct" if direct else "proxied"
            label = f"{name} {how}, {workers} worker{'s' if workers > 1 else ''}"
            print(
                f"{label:<28} {PHOTOS} photos x {SIZE // 1024} KB, {CLIENTS} clients: "
                f"{PHOTOS / wall:6.1f} photos/s ({PHOTOS * SIZE / wall / 1e6:5.1f} MB/s), "
                f"p50 {statistics.median(latencies) * 1000:5.0f} ms, p95 {p95 * 1000:5.0f} ms; "
                f"{intact}/{PHOTOS} listed and as the pipeline stores them "
                f"{'ok' if whole else 'LOST'}; {sent / 1e6:.2f} MB through the app"
            )
        print(f"filesystem: 2 workers / 1 worker = {throughput[2] / throughput[1]:.2f}x")
        share = through_app[True] / through_app[False]
        small = share < 0.01
        ok &= small
        print(
            f"s3: bytes through the app, direct / proxied = {share:.4%}  target < 1%  "
            f"{'ok' if small else 'MISSED'}"
        )
    finally:
        moto.terminate()
        moto.wait()
    return ok


if __name__ == "__main__":
    sys.exit(main())
