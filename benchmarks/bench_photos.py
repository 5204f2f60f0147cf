"""Benchmark download-sample-photos: --concurrency 8 against --concurrency 1, in one run.

    uv run python benchmarks/bench_photos.py

50 photos come from a loopback HTTP server that adds 100 ms of latency to every response and
go into a bucket on a moto S3 server (its own process) on 127.0.0.1, through the real CLI
(wall time of the whole command, start-up included) and through `seed_photos` alone
(the part the option changes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from servers import start_moto  # noqa: E402

from demo_scripts.download_sample_photos import SeedOptions, seed_photos  # noqa: E402
from demo_scripts.photo_catalog import load_catalog  # noqa: E402
from services.storage import get_storage  # noqa: E402
from tests.photo_server import photo_server  # noqa: E402

PHOTOS = 50
LATENCY = 0.1


def main() -> int:
    moto, endpoint = start_moto()
    env = {
        "STORAGE_TYPE": "s3",
        "S3_ACCESS_KEY": "bench",
        "S3_SECRET_KEY": "bench-secret",
        "S3_BUCKET": "bench-photos",
        "S3_ENDPOINT_URL": endpoint,
    }
    boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket=env["S3_BUCKET"])
    results: dict[str, dict[int, float]] = {"cli": {}, "seed_photos": {}}
    with photo_server(latency=LATENCY) as server, tempfile.TemporaryDirectory() as folder:
        catalog = Path(folder) / "catalog.json"
        entries = [
            {"name": f"p{i:02d}.jpg", "url": server.url(f"latency/{i}.jpg")} for i in range(PHOTOS)
        ]
        catalog.write_text(json.dumps({"photos": entries}))
        for concurrency in (1, 8):
            command = [
                sys.executable, str(ROOT / "oppdemo.py"), "-C", str(ROOT),
                "download-sample-photos", "--catalog", str(catalog),
                "--concurrency", str(concurrency), "--prefix", f"cli-{concurrency}",
            ]  # fmt: skip
            started = time.perf_counter()
            done = subprocess.run(command, env={**os.environ, **env}, capture_output=True)
            results["cli"][concurrency] = time.perf_counter() - started
            assert done.returncode == 0, done.stderr.decode()
            storage = get_storage(env)
            options = SeedOptions(prefix=f"direct-{concurrency}", concurrency=concurrency)
            started = time.perf_counter()
            report = seed_photos(load_catalog(catalog), storage, options)
            results["seed_photos"][concurrency] = time.perf_counter() - started
            assert report.count("downloaded") == PHOTOS
    moto.terminate()
    moto.wait()
    ok = True
    for label, times in results.items():
        ratio = times[1] / times[8]
        ok &= ratio >= 5
        print(
            f"{label:<12} {PHOTOS} photos, {LATENCY * 1000:.0f} ms latency: "
            f"--concurrency 1 {times[1]:6.2f} s, --concurrency 8 {times[8]:6.2f} s, "
            f"speed-up {ratio:4.1f}x (target >= 5x) {'ok' if ratio >= 5 else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
