"""How long each storage command takes to report a server that never answers, with the
default waits (S3_CONNECT_TIMEOUT 5 s, S3_READ_TIMEOUT 10 s, S3_MAX_ATTEMPTS 2).

    uv run python benchmarks/bench_silent_server.py [--quick]

Two servers on 127.0.0.1: one that accepts connections and never sends a byte, one whose
queue is full so that connections are never accepted. Target (issue 22): each report within
30 s. `--quick` times `storage ls` alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 30.0


def accepting() -> tuple[socket.socket, str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    kept: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                kept.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


def never_accepting() -> tuple[socket.socket, str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    # Fill the queue (one connection on Linux): new connections then wait for their timeout.
    never_accepting.filler = socket.create_connection(listener.getsockname())  # type: ignore[attr-defined]
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="storage ls only")
    quick = parser.parse_args().quick
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "app"
        (project / "static/uploads").mkdir(parents=True)
        (project / "static/uploads/a.jpg").write_bytes(b"a")
        (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
        shutil.copytree(
            ROOT / "services", project / "services", ignore=shutil.ignore_patterns("__pycache__")
        )
        for kind, make in (("accepts", accepting), ("never accepts", never_accepting)):
            listener, url = make()
            settings = {"STORAGE_TYPE": "s3", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s",
                        "S3_BUCKET": "b", "S3_ENDPOINT_URL": url}  # fmt: skip
            bucket = project / "bucket.env"
            bucket.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
            commands = {
                "ls": ["ls"],
                "get": ["get", "a.jpg", str(project / "copy.jpg")],
                "put": ["put", str(project / "static/uploads/a.jpg"), "a.jpg"],
                "migrate": ["migrate", "--to", str(bucket)],
                "check": ["check"],
            }
            for name, arguments in commands.items():
                if quick and name != "ls":
                    continue
                env = {**os.environ, "NO_COLOR": "1"}
                if name != "migrate":
                    env.update(settings)
                started = time.monotonic()
                done = subprocess.run(
                    [sys.executable, str(ROOT / "oppdemo.py"), "-C", str(project), "storage",
                     *arguments],
                    env=env, capture_output=True, text=True, timeout=120,
                )  # fmt: skip
                took = time.monotonic() - started
                said = " ".join(done.stderr.split()) or " ".join(done.stdout.split())
                ok = took < TARGET and done.returncode in (1, 2) and "S3_" in said
                failures += not ok
                print(f"{kind:14} storage {name:8} {took:5.1f} s  exit {done.returncode}  "
                      f"(target < {TARGET:.0f} s){'' if ok else '  MISSED: ' + said}")  # fmt: skip
            listener.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
