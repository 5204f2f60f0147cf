"""Load check of the upload demo: 20 concurrent clients upload 200 photos of 200 KB each.

    uv run python benchmarks/bench_upload.py

The demo runs as users run it (`oppdemo.py serve`, uvicorn) on 127.0.0.1: on the filesystem
with one worker and with two (`--workers 2`), then on S3 (a moto server in its own process).
Each photo is a real JPEG that goes through the photo pipeline (decoded, cleaned, re-encoded,
a thumbnail made); it must come back in the listing and serve exactly the bytes the pipeline
makes of it (computed here with the demo's own `clean_photo`). Prints throughput, latencies
and the ratio of two workers to one.
"""

from __future__ import annotations

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
from servers import free_port, start_moto, wait_for_port

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


def photo(index: int) -> bytes:
    """A distinct JPEG of about 200 KB (noise compresses badly)."""
    import io

    from PIL import Image

    side = 330
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


def load(origin: str, direct: bool = False) -> tuple[float, list[float], int, int]:
    """Upload every photo with CLIENTS at once (through the app, or straight to the bucket
    with a presigned POST and a confirm); check each is listed and served as stored. Returns
    the wall time, the latencies, the photos intact, and the bytes sent to the app."""
    import json

    pool = urllib3.PoolManager(maxsize=CLIENTS)
    bodies = [photo(index) for index in range(PHOTOS)]
    to_app = [0] * PHOTOS

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
    with ThreadPoolExecutor(CLIENTS) as clients:
        results = list(clients.map(upload, range(PHOTOS)))
    wall = time.perf_counter() - started
    keys = {key: stored_form(bodies[index]) for index, (_, key) in enumerate(results)}
    listed = {item["key"]: item for item in pool.request("GET", f"{origin}/api/photos").json()}
    intact = 0
    for key, body in keys.items():
        url = listed[key]["url"]
        served = pool.request("GET", url if url.startswith("http") else f"{origin}{url}")
        intact += served.status == 200 and served.data == body
    return wall, [elapsed for elapsed, _ in results], intact, sum(to_app)


def main() -> int:
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
