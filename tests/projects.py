"""Temporary FastOpp-style projects for the oppdemo tests, and a way to capture a whole tree."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _can_symlink() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        try:
            os.symlink("target", Path(folder) / "link")
        except (OSError, NotImplementedError):
            return False
    return True


CAN_SYMLINK = _can_symlink()
needs_symlinks = pytest.mark.skipif(
    not CAN_SYMLINK,
    reason="creating symbolic links needs Developer Mode or administrator rights on Windows",
)


def posix_only(why: str) -> pytest.MarkDecorator:
    """Skip on Windows, saying which POSIX feature the test needs."""
    return pytest.mark.skipif(os.name == "nt", reason=f"needs {why}, which Windows lacks")


PYPROJECT = """\
[project]
name = "demo-app"
version = "0.1.0"

[tool.oppdemo]
ignore = ["*.log"]

[[tool.oppdemo.assets]]
path = "services/storage"

[[tool.oppdemo.assets]]
path = "demo_scripts"
saved = "scripts"
"""


def make_project(root: Path, pyproject: str = PYPROJECT) -> Path:
    """A project with two assets in its working tree and no snapshot yet."""
    files = {
        "pyproject.toml": pyproject,
        "services/__init__.py": "",
        "services/storage/__init__.py": "from .base import Storage\n",
        "services/storage/base.py": "class Storage:\n    pass\n",
        "services/storage/backends/s3.py": "BUCKET = 'demo'\n",
        "demo_scripts/seed.py": "print('seeding')\n",
        "demo_scripts/data/photos.json": '{"photos": []}\n',
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (root / "demo_scripts" / "seed.py").chmod(0o755)
    (root / "demo_scripts" / "data" / "logo.bin").write_bytes(bytes(range(256)) * 4)
    if CAN_SYMLINK:
        os.symlink("seed.py", root / "demo_scripts" / "run")
    return root


def capture(root: Path, exclude: tuple[str, ...] = ("backups",)) -> dict[str, tuple[object, ...]]:
    """Every path under `root` with its kind, permission bits and bytes (or link target)."""
    state: dict[str, tuple[object, ...]] = {}
    for directory, folders, files in os.walk(root):
        relative_dir = Path(directory).relative_to(root)
        if relative_dir.parts and relative_dir.parts[0] in exclude:
            continue
        for name in folders + files:
            path = Path(directory, name)
            key = (relative_dir / name).as_posix()
            if key in exclude:
                continue
            info = path.lstat()
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                state[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[key] = ("dir", mode)
            else:
                try:
                    state[key] = ("file", mode, path.read_bytes())
                except PermissionError:  # an unreadable file, for a test run by a plain user
                    state[key] = ("file", mode, None)
    return state


def run_cli(
    project: Path,
    *arguments: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    wrapper: tuple[str, ...] = (),
    python_flags: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `python oppdemo.py -C project ...` in a real subprocess, without a terminal.

    `wrapper` goes before the interpreter (setpriv, say), `python_flags` right after it.
    """
    oppdemo = str(PROJECT_ROOT / "oppdemo.py")
    return subprocess.run(
        [*wrapper, sys.executable, *python_flags, oppdemo, "-C", str(project), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Write each file (text or bytes) under `root`, making folders as needed."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


FASTOPP_PYPROJECT = """\
[project]
name = "fastopp"
version = "0.2.0"  # keep in step with the changelog
dependencies = ["fastapi>=0.115"]

# Lint settings
[tool.ruff]
line-length = 100
"""


def make_fastopp_2025(root: Path) -> Path:
    """FastOpp as at its storage post (Aug-Oct 2025): no manifest, scripts saved as `scripts`.

    The working tree has drifted from the snapshot: one file changed, one added, one deleted.
    """
    storage = {
        "__init__.py": "from .factory import get_storage\n",
        "base.py": "class StorageInterface:\n    pass\n",
        "factory.py": "def get_storage():\n    return None\n",
        "s3.py": "import boto3\n",
    }
    scripts = {
        "__init__.py": "",
        "add_sample_products.py": "print('products')\n",
        "download_sample_photos.py": "print('photos')\n",
    }
    saved = {f"demo_assets/services/storage/{k}": v for k, v in storage.items()}
    saved |= {f"demo_assets/scripts/{k}": v for k, v in scripts.items()}
    saved["demo_assets/scripts/add_test_users.py"] = "print('users')\n"  # deleted since
    working = {f"services/storage/{k}": v for k, v in storage.items()}
    working |= {f"demo_scripts/{k}": v for k, v in scripts.items()}
    working["services/storage/s3.py"] = "import boto3  # with a CDN\n"  # modified
    working["demo_scripts/add_sample_webinars.py"] = "print('webinars')\n"  # added
    write_tree(
        root,
        {
            "pyproject.toml": FASTOPP_PYPROJECT,
            "main.py": "app = None\n",
            "services/__init__.py": "",
            "services/product_service.py": "class ProductService: ...\n",
            **saved,
            **working,
        },
    )
    return root


def make_fastopp_current(root: Path) -> Path:
    """FastOpp's main of late 2025: many assets, `scripts/demo`, `base_assets/`, its own backups.

    In sync with its snapshot except `blog/`: 5 files added and 2 modified since the last save.
    """
    app = {
        "main.py": "from fastapi import FastAPI\napp = FastAPI()  # full demo\n",
        "models.py": "class Product: ...\nclass Webinar: ...\n",
        "admin/__init__.py": "",
        "admin/views.py": "VIEWS = ['products', 'webinars']\n",
        "routes/__init__.py": "",
        "routes/pages.py": "PAGES = ['/', '/webinars']\n",
        "routes/webinar.py": "ROUTE = '/webinar'\n",
        "templates/index.html": "<h1>FastOpp demo</h1>\n",
        "templates/partials/header.html": "<header></header>\n",
        "static/css/styles.css": "body { margin: 0 }\n",
        "static/images/leaf.jpg": bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(range(256)),
        "static/uploads/.gitkeep": "",
        "dependencies/__init__.py": "",
        "dependencies/auth.py": "def current_user(): ...\n",
        "services/chat_service.py": "class ChatService: ...\n",
        "services/storage/__init__.py": "from .factory import get_storage\n",
        "services/storage/s3.py": "import boto3\n",
        "blog/_config.yml": "title: FastOpp\n",
        "blog/_layouts/home.html": "<main>{{ content }}</main>\n",
        "blog/_layouts/post.html": "<article>{{ content }}</article>\n",
        "blog/_posts/2025-09-29-welcome-to-fastopp.md": "# Welcome\n",
        "scripts/demo/__init__.py": "",
        "scripts/demo/add_sample_products.py": "print('products')\n",
    }
    snapshot = {f"demo_assets/scripts/{k[len('scripts/demo/'):]}" if k.startswith("scripts/demo/")
                else f"demo_assets/{k}": v for k, v in app.items()}  # fmt: skip
    write_tree(
        root,
        {
            "pyproject.toml": FASTOPP_PYPROJECT,
            **app,
            **snapshot,
            "demo_assets/README.md": "# Demo assets\n",
            "demo_assets/BACKUP_SUMMARY.md": "Backed up on 2025-08-08.\n",
            "demo_assets/restore_demo.py": "print('restore')\n",
            "demo_assets/restore_demo.sh": "#!/bin/sh\n",
            # The app's own scripts live beside the demo ones and are not demo assets.
            "scripts/__init__.py": "",
            "scripts/init_db.py": "print('init db')\n",
            "scripts/create_superuser.py": "print('superuser')\n",
            "base_assets/README.md": "# The minimal app\n",
            "base_assets/main.py": "from fastapi import FastAPI\napp = FastAPI()  # minimal\n",
            "base_assets/models.py": "class User: ...\n",
            "base_assets/admin/views.py": "VIEWS = ['users']\n",
            "base_assets/routes/pages.py": "PAGES = ['/']\n",
            "base_assets/templates/index.html": "<h1>FastOpp</h1>\n",
            "base_assets/scripts/emergency_access.py": "print('emergency')\n",
            # What FastOpp's own oppdemo.py leaves in backups/.
            "backups/destroy/main.py.20250808_144836": "app = 'old'\n",
            # Drift: 2 modified and 5 added in blog/.
            "blog/_layouts/home.html": "<main class='home'>{{ content }}</main>\n",
            "blog/_layouts/post.html": "<article class='post'>{{ content }}</article>\n",
            "blog/_posts/2025-10-27-python-development-environment.md": "# Dev env\n",
            "blog/_posts/2025-12-02-student-perspective-country-store.md": "# Store\n",
            "blog/assets/images/2025_10/red-maple.webp": b"RIFF\x00\x00\x00\x00WEBP",
            "blog/assets/images/2025_10/user_settings.webp": b"RIFF\x01\x00\x00\x00WEBP",
            "blog/assets/images/2025_12/ethan_screenshot.webp": b"RIFF\x02\x00\x00\x00WEBP",
        },
    )
    return root


def make_s3_app(root: Path, endpoint: str, bucket: str, key: str, secret: str) -> Path:
    """A minimal project at root/app: this repository's storage package and a `.env` that
    points it at `bucket` on the S3 server at `endpoint`."""
    project = root / "app"
    shutil.copytree(PROJECT_ROOT / "services", project / "services")
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    (project / ".env").write_text(
        f"STORAGE_TYPE=s3\nS3_ACCESS_KEY={key}\nS3_SECRET_KEY={secret}\n"
        f"S3_BUCKET={bucket}\nS3_ENDPOINT_URL={endpoint}\n"
    )
    return project


def make_demo_project(root: Path) -> Path:
    """A copy of this project's demo code and manifest (the upload demo and its base included)."""
    project = root / "app"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project)
    for folder in ("services", "demo_scripts", "demo_app", "base_assets"):
        shutil.copytree(
            PROJECT_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return project


@dataclass
class Paused:
    """An oppdemo process stopped at a test-only pause point, and the files its output goes to."""

    process: subprocess.Popen[bytes]
    flag: Path
    stdout: Path
    stderr: Path

    def finish(
        self, signum: int | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Send `signum` (if any) where the process stands, let it go on, and wait for its end.

        The signal is sent before the pause ends, so it lands at the pause point itself."""
        # A helper it forked (the engine's, on Linux) dies with it: wait for that too, so
        # nothing the command started still writes while the test looks.
        helpers = _children(self.process.pid)
        if signum is not None:
            self.process.send_signal(signum)
        self.flag.unlink(missing_ok=True)
        try:
            self.process.wait(timeout)
        finally:
            self.process.kill()  # a no-op once it has ended
        _wait_until_gone(helpers, timeout)
        stdout, stderr = self.stdout.read_text(), self.stderr.read_text()
        shutil.rmtree(self.flag.parent, ignore_errors=True)
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, stdout, stderr
        )


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (Linux), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _children(pid: int) -> list[tuple[int, str]]:
    """The processes `pid` has started, with their start times (Linux: elsewhere oppdemo
    never forks, and there is no /proc to ask)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields is not None and int(fields[1]) == pid:
            found.append((int(entry.name), fields[19]))
    return found


def _wait_until_gone(children: list[tuple[int, str]], timeout: float) -> None:
    """Wait until each process has ended: gone, a zombie, or its pid taken by a newer one."""
    deadline = time.monotonic() + timeout
    for pid, started in children:
        while (fields := _stat(pid)) is not None and fields[19] == started and fields[0] != "Z":
            assert time.monotonic() < deadline, f"process {pid} outlived the command that forked it"
            time.sleep(0.002)


def start_paused(
    project: Path, point: str, *arguments: str, env: dict[str, str] | None = None
) -> Paused:
    """Start `python oppdemo.py -C project ...` and wait until it stops at the test-only pause
    `point` ("name@n": the n-th pass of `pause_point("name")`, see oppdemo/pause.py).

    Its output goes to files, never a pipe that could fill while it waits."""
    folder = Path(tempfile.mkdtemp(prefix="oppdemo-pause-"))
    flag, stdout, stderr = folder / "paused", folder / "stdout", folder / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_ROOT / "oppdemo.py"), "-C", str(project), *arguments],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={
                **os.environ,
                "NO_COLOR": "1",
                "OPPDEMO_TEST_PAUSE": f"{point}:{flag}",
                **(env or {}),
            },
        )
    paused = Paused(process, flag, stdout, stderr)
    deadline = time.monotonic() + 120
    while not flag.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()  # a no-op once it has ended
            ended = paused.finish()
            said = (ended.stdout + ended.stderr)[-2000:]
            raise AssertionError(f"never paused at {point} (exit {ended.returncode}): {said}")
        time.sleep(0.002)
    return paused


FASTOPP_GITIGNORE = (Path(__file__).parent / "fixtures" / "fastopp.gitignore").read_text()
# FastOpp's main (commit 1bc73f8): its demo files, by folder, as its own oppdemo.py saves them.
FASTOPP_MAIN_DEMO: dict[str, str | bytes] = {
    "main.py": "from fastapi import FastAPI\napp = FastAPI()  # the full demo\n",
    "models.py": "class User: ...\nclass Product: ...\nclass Webinar: ...\n",
    "admin/__init__.py": "",
    "admin/setup.py": "def setup_admin(app): ...\n",
    "admin/views.py": "VIEWS = ['users', 'products', 'webinars']\n",
    "routes/__init__.py": "",
    "routes/api.py": "API = '/api'\n",
    "routes/auth.py": "LOGIN = '/login'\n",
    "routes/chat.py": "CHAT = '/chat'\n",
    "routes/pages.py": "PAGES = ['/', '/webinars', '/ai-demo']\n",
    "routes/webinar.py": "ROUTE = '/webinar'\n",
    "templates/index.html": "<h1>FastOpp demo</h1>\n",
    "templates/login.html": "<form></form>\n",
    "templates/webinar-demo.html": "<h1>Webinars</h1>\n",
    "templates/partials/header.html": "<header></header>\n",
    "static/favicon.ico": bytes(range(64)),
    "static/css/styles.css": "body { margin: 0 }\n",
    "static/images/leaf.jpg": bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(range(256)),
    "static/js/main.js": "console.log('demo')\n",
    "static/uploads/.gitkeep": "",
    "dependencies/__init__.py": "",
    "dependencies/auth.py": "def current_user(): ...\n",
    "dependencies/config.py": "UPLOAD_DIR = 'static/uploads'\n",
    "dependencies/database.py": "def get_db(): ...\n",
    "services/chat_service.py": "class ChatService: ...\n",
    "services/product_service.py": "class ProductService: ...\n",
    "services/webinar_service.py": "class WebinarService: ...\n",
    "blog/_config.yml": "title: FastOpp\n",
    "blog/_layouts/post.html": "<article>{{ content }}</article>\n",
    "blog/_posts/2025-09-29-welcome-to-fastopp.md": "# Welcome\n",
    "scripts/demo/__init__.py": "",
    "scripts/demo/add_sample_products.py": "print('products')\n",
    "scripts/demo/download_sample_photos.py": "print('photos')\n",
}
FASTOPP_MAIN_BASE: dict[str, str | bytes] = {
    "base_assets/README.md": "# The minimal app\n",
    "base_assets/main.py": "from fastapi import FastAPI\napp = FastAPI()  # minimal\n",
    "base_assets/models.py": "class User: ...\n",
    "base_assets/admin/__init__.py": "",
    "base_assets/admin/setup.py": "def setup_admin(app): ...  # users only\n",
    "base_assets/admin/views.py": "VIEWS = ['users']\n",
    "base_assets/routes/__init__.py": "",
    "base_assets/routes/auth.py": "LOGIN = '/login'\n",
    "base_assets/routes/pages.py": "PAGES = ['/']\n",
    "base_assets/templates/index.html": "<h1>FastOpp</h1>\n",
    "base_assets/templates/login.html": "<form></form>\n",
    "base_assets/scripts/emergency_access.py": "print('emergency')\n",
}


def make_fastopp_main(root: Path) -> Path:
    """FastOpp's main as a maintainer has it (commit 1bc73f8): its real .gitignore, the
    storage in core/ (UPLOAD_DIR defaulting to static/uploads), oppman.py, base_assets/, and
    a snapshot in step with the demo files."""
    saved = {
        ("demo_assets/scripts/" + name[len("scripts/demo/") :])
        if name.startswith("scripts/demo/")
        else f"demo_assets/{name}": content
        for name, content in FASTOPP_MAIN_DEMO.items()
    }
    write_tree(
        root,
        {
            "pyproject.toml": FASTOPP_PYPROJECT,
            ".gitignore": FASTOPP_GITIGNORE,
            "oppman.py": "print('oppman')\n",
            "db.py": "DATABASE_URL = 'sqlite+aiosqlite:///./test.db'\n",
            "core/__init__.py": "",
            "core/services/__init__.py": "",
            "core/services/storage/__init__.py": "from .factory import get_storage\n",
            "core/services/storage/factory.py": (
                "import os\n\ndef get_storage():\n"
                '    upload_dir = os.getenv("UPLOAD_DIR", "static/uploads")\n'
            ),
            "scripts/__init__.py": "",
            "scripts/init_db.py": "print('init db')\n",
            **FASTOPP_MAIN_DEMO,
            **FASTOPP_MAIN_BASE,
            **saved,
            "demo_assets/README.md": "# Demo assets\n",
        },
    )
    return root


# What a week of real use leaves in a FastOpp checkout that is not demo code: users' uploads,
# secrets, caches, a built blog and the database (all ignored by FastOpp's .gitignore but for
# the uploads, which are data).
FASTOPP_USER_FILES: dict[str, str | bytes] = {
    "static/uploads/photos/0b9f6c1e.jpg": bytes([0xFF, 0xD8]) + b"a user's photo",
    "static/uploads/photos/77aa01c2.jpg": bytes([0xFF, 0xD8]) + b"another photo",
    "static/uploads/notes.txt": "an upload at the top of the folder\n",
    "dependencies/.env.local": "SECRET_KEY=dependencies-secret\n",
    "blog/.env.production.local": "TOKEN=blog-secret\n",
    "routes/__pycache__/pages.cpython-311.pyc": b"\x00cache",
    "services/__pycache__/chat_service.cpython-311.pyc": b"\x00cache",
    "blog/_site/index.html": "<html>built</html>\n",
    "test.db": b"SQLite format 3\x00",
}
