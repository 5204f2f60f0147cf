"""Benchmark `oppdemo.py storage migrate` against `aws s3 sync` on the same S3 server, one run.

    uv run python benchmarks/bench_storage.py [--files 1000] [--size-kb 100] [--huge-mb 1024]

awscli is installed from PyPI into a virtual environment of its own under the system's temp
folder (not a project dependency). A moto S3 server runs in its own process on 127.0.0.1.
Each tool uploads the same local folder into its own empty bucket (whole command, start-up
included), then runs again with nothing to copy. Last, one large file moves local -> bucket
with the peak resident size of the migrate process measured.
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
from pathlib import Path

from servers import start_moto

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret"}


def awscli() -> Path:
    """`aws` from PyPI in a virtual environment of its own, made once and kept."""
    venv = Path(tempfile.gettempdir()) / "oppdemo-bench-awscli"
    aws = venv / ("Scripts/aws.exe" if os.name == "nt" else "bin/aws")
    if not aws.exists():
        print("installing awscli from PyPI into", venv, flush=True)
        subprocess.run(["uv", "venv", "--quiet", str(venv)], check=True)
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        subprocess.run(
            ["uv", "pip", "install", "--quiet", "--python", str(python), "awscli"], check=True
        )
    return aws


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {result.stderr[-2000:]}")
    return elapsed


def count_objects(endpoint: str, bucket: str) -> int:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).create_bucket(Bucket=name)


def project_at(folder: Path, uploads: Path, endpoint: str, bucket: str) -> tuple[Path, Path]:
    """A project whose current storage is `uploads`, and a settings file for `bucket`."""
    project = folder / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    shutil.copytree(ROOT / "services", project / "services")
    (project / ".env").write_text(f"UPLOAD_DIR={uploads}\n")
    target = project / ".env.production"
    target.write_text(settings(endpoint, bucket))
    return project, target


def settings(endpoint: str, bucket: str) -> str:
    """A dotenv file's text selecting `bucket` on the moto server."""
    return (
        "STORAGE_TYPE=s3\n"
        f"S3_ACCESS_KEY={KEYS['AWS_ACCESS_KEY_ID']}\nS3_SECRET_KEY={KEYS['AWS_SECRET_ACCESS_KEY']}\n"
        f"S3_BUCKET={bucket}\nS3_ENDPOINT_URL={endpoint}\n"
    )


def report(name: str, ours: float, theirs: float, target: float) -> bool:
    ratio = ours / theirs
    ok = ratio <= target
    print(
        f"{name:<40} migrate {ours:6.2f} s  aws s3 sync {theirs:6.2f} s  ratio {ratio:4.2f}  "
        f"target <= {target}  {'ok' if ok else 'MISSED'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size-kb", type=int, default=100)
    parser.add_argument("--huge-mb", type=int, default=1024, help="0 skips the memory run")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    aws = awscli()
    moto, endpoint = start_moto()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        **KEYS,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    results: list[bool] = []
    try:
        with tempfile.TemporaryDirectory(prefix="oppdemo-bench-") as name:
            folder = Path(name)
            uploads = folder / "uploads"
            block = os.urandom(options.size_kb * 1024)
            for index in range(options.files):
                path = uploads / f"photos/{index // 100:02d}/photo-{index:05d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(index.to_bytes(8, "little") + block[8:])
            project, production = project_at(folder, uploads, endpoint, "unused")
            label = f"{options.files} files x {options.size_kb} KB, local -> bucket"
            first: dict[str, list[float]] = {"ours": [], "theirs": []}
            second: dict[str, list[float]] = {"ours": [], "theirs": []}
            for run in range(options.repeats):
                # Each run: two new empty buckets, a first upload by each tool, then a second
                # run of each with nothing to copy; the tools take turns.
                ours_bucket, their_bucket = f"by-oppdemo-{run}", f"by-awscli-{run}"
                make_bucket(endpoint, ours_bucket)
                make_bucket(endpoint, their_bucket)
                production.write_text(settings(endpoint, ours_bucket))
                sync = [str(aws), "s3", "sync", str(uploads), f"s3://{their_bucket}/",
                        "--endpoint-url", endpoint, "--only-show-errors"]  # fmt: skip
                migrate = [sys.executable, str(ROOT / "oppdemo.py"), "-C", str(project),
                           "storage", "migrate", "--to", str(production)]  # fmt: skip
                first["theirs"].append(timed(sync, env))
                first["ours"].append(timed(migrate, env))
                assert count_objects(endpoint, ours_bucket) == options.files
                assert count_objects(endpoint, their_bucket) == options.files
                second["theirs"].append(timed(sync, env))
                second["ours"].append(timed(migrate, env))
            median = statistics.median
            results.append(report(label, median(first["ours"]), median(first["theirs"]), 1.0))
            results.append(
                report(
                    "second run, nothing to copy",
                    median(second["ours"]),
                    median(second["theirs"]),
                    1.0,
                )
            )

            if options.huge_mb:
                huge = folder / "huge-uploads"
                huge.mkdir()
                with open(huge / "video.bin", "wb") as stream:
                    for _ in range(options.huge_mb):
                        stream.write(os.urandom(1 << 20))
                make_bucket(endpoint, "huge")
                (project / ".env").write_text(f"UPLOAD_DIR={huge}\n")
                production.write_text(settings(endpoint, "huge"))
                # Measured in a process of its own, whose only child is the migration.
                measure = (
                    "import resource, subprocess, sys\n"
                    "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
                    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                )
                started = time.perf_counter()
                output = subprocess.run(
                    [sys.executable, "-c", measure, *migrate], env=env, capture_output=True,
                    text=True, check=True,
                ).stdout  # fmt: skip
                seconds = time.perf_counter() - started
                peak_mb = int(output.split()[-1]) / 1024
                ok = peak_mb < 200 and count_objects(endpoint, "huge") == 1
                results.append(ok)
                print(
                    f"{f'{options.huge_mb} MB file, local -> bucket':<40} {seconds:6.2f} s, "
                    f"peak resident size {peak_mb:.0f} MB  target < 200 MB  "
                    f"{'ok' if ok else 'MISSED'}"
                )
    finally:
        moto.terminate()
        moto.wait()
    print(f"{sum(results)} of {len(results)} targets met")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
