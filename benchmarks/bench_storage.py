"""Benchmark `oppdemo.py storage migrate` against `aws s3 sync` on the same S3 server, one run.

    uv run python benchmarks/bench_storage.py [--files 1000] [--size-kb 100] [--huge-mb 1024]

awscli is installed from PyPI into a virtual environment of its own under the system's temp
folder (not a project dependency). A moto S3 server runs in its own process on 127.0.0.1.
Each tool uploads the same local folder into its own empty bucket (whole command, start-up
included), then runs again with nothing to copy. Then that bucket is copied into new buckets:
by migrate server-side (CopyObject), by migrate streaming, and by `aws s3 sync s3://a s3://b`,
with the bytes the migrate process read. Last, one large file moves local -> bucket with the
peak resident size of the migrate process measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


def count_objects(endpoint: str, bucket: str) -> int:
    client = s3_client(endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def make_bucket(endpoint: str, name: str) -> None:
    s3_client(endpoint).create_bucket(Bucket=name)


def drop_bucket(endpoint: str, name: str) -> None:
    client = s3_client(endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=name, Delete={"Objects": keys})
    client.delete_bucket(Bucket=name)


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


def timed_migrate(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    """Seconds for a `migrate --json` run, and its report (method, bytes read here)."""
    started = time.perf_counter()
    result = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed: {result.stderr[-2000:]}")
    return elapsed, json.loads(result.stdout)


def bucket_to_bucket(
    aws: Path, project: Path, endpoint: str, source: str, files: int, repeats: int,
    env: dict[str, str],
) -> list[bool]:  # fmt: skip
    """The same bucket copied into new buckets of the same server: by oppdemo server-side
    (CopyObject), by oppdemo streaming (other keys, so the server cannot copy for it), and by
    `aws s3 sync s3://a s3://b` (which copies server-side too)."""
    source_settings = project / ".env.source"
    source_settings.write_text(settings(endpoint, source))
    target_settings = project / ".env.target"
    times: dict[str, list[float]] = {"server-side": [], "streamed": [], "aws": []}
    read: dict[str, int] = {}
    kinds = ["server-side", "streamed", "aws"]
    for run in range(repeats):
        # The tools take turns going first, and each target bucket is dropped once counted:
        # moto slows down as it holds more objects, which would favour whoever runs first.
        for kind in kinds[run % 3 :] + kinds[: run % 3]:
            bucket = f"b2b-{kind}-{run}"
            make_bucket(endpoint, bucket)
            if kind == "aws":
                sync = [str(aws), "s3", "sync", f"s3://{source}/", f"s3://{bucket}/",
                        "--endpoint-url", endpoint, "--only-show-errors"]  # fmt: skip
                times["aws"].append(timed(sync, env))
            else:
                text = settings(endpoint, bucket)
                if kind == "streamed":  # other keys: the server cannot copy for us
                    text = text.replace("S3_ACCESS_KEY=bench\n", "S3_ACCESS_KEY=other\n")
                target_settings.write_text(text)
                migrate = [sys.executable, str(ROOT / "oppdemo.py"), "-C", str(project),
                           "storage", "migrate", "--from", str(source_settings),
                           "--to", str(target_settings)]  # fmt: skip
                seconds, result = timed_migrate(migrate, env)
                wanted = "server-side copy" if kind == "server-side" else "streamed"
                assert result["method"] == wanted, result["method"]
                times[kind].append(seconds)
                read[kind] = int(str(result["bytes_read"]))
            assert count_objects(endpoint, bucket) == files
            drop_bucket(endpoint, bucket)
    median = statistics.median
    label = f"{files} files, bucket -> bucket"
    results = [
        report(f"{label}, server-side", median(times["server-side"]), median(times["aws"]), 1.0)
    ]
    print(
        f"{label}, streamed: migrate {median(times['streamed']):6.2f} s  "
        f"(ratio to aws s3 sync {median(times['streamed']) / median(times['aws']):4.2f}, no target)"
    )
    print(
        f"bytes read by the migrate process: server-side {read['server-side']:,}, "
        f"streamed {read['streamed']:,}  target: server-side reads 0  "
        f"{'ok' if read['server-side'] == 0 else 'MISSED'}"
    )
    results.append(read["server-side"] == 0)
    return results


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
                # Turns alternate: moto slows as it fills, which favours whoever goes first.
                if run % 2:
                    first["ours"].append(timed(migrate, env))
                    first["theirs"].append(timed(sync, env))
                else:
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

            for run in range(1, options.repeats):
                drop_bucket(endpoint, f"by-oppdemo-{run}")
            for run in range(options.repeats):
                drop_bucket(endpoint, f"by-awscli-{run}")
            results += bucket_to_bucket(
                aws, project, endpoint, "by-oppdemo-0", options.files, options.repeats, env
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
