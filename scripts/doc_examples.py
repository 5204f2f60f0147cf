"""Run the documentation's shell examples and check (or rewrite) the output they show.

uv run python scripts/doc_examples.py            # exit 1, with a diff, when a shown output is stale
uv run python scripts/doc_examples.py --update   # rewrite the shown outputs from the real ones

An example is a ```console block right after a `<!-- run ... -->` comment, which says where it
runs (hidden from readers):

    <!-- run
    project: fastopp-2025        a fresh project (tests/projects.py); omitted: the page's last one
    bucket: my-uploads           an empty bucket on a moto S3 server; $S3_ENDPOINT is its URL
    setup: echo x >> main.py     shell lines run first, output hidden (repeatable)
    fails: oppdemo diff          a command shown failing (repeatable); others must exit 0
    -->

Each `$ command` line runs in bash in the project, with the `oppdemo` console script on PATH and
no terminal; its output (stdout and stderr) is what follows it in the block. Times, backup ids,
random ids, ports and the project's path are normalised; a line `…` stands for any lines.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOCS = PROJECT_ROOT / "docs"
ELLIPSIS = "…"
MARK = "@@oppdemo-doc-example-end@@"
BLOCK = re.compile(r"<!-- run\b(?P<directive>.*?)-->\n```console\n(?P<body>.*?)```\n", re.DOTALL)
# Blocks that show output must be run; the generated reference shows usage lines only.
NOT_RUN = {"reference/cli.md"}
ACCESS_KEY = "docs-access-key"
SECRET_KEY = "docs-secret-key-never-shown"


@dataclass
class Example:
    page: str
    directive: dict[str, list[str]]
    commands: list[tuple[str, list[str]]]  # each command with its shown output lines
    start: int
    end: int


@dataclass
class Result:
    page: str
    stale: list[str] = field(default_factory=list)
    text: str = ""


def parse_directive(text: str) -> dict[str, list[str]]:
    directive: dict[str, list[str]] = {}
    for line in text.strip().splitlines():
        key, _, value = line.strip().partition(":")
        directive.setdefault(key.strip(), []).append(value.strip())
    return directive


def parse_body(body: str) -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
    return commands


def examples(page: Path) -> Iterator[Example]:
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(DOCS).as_posix()
    for match in BLOCK.finditer(text):
        yield Example(
            name,
            parse_directive(match["directive"]),
            parse_body(match["body"]),
            match.start("body"),
            match.end("body"),
        )


def unrun_blocks(page: Path) -> list[str]:
    """Console blocks with output lines that no `<!-- run -->` comment runs."""
    text = page.read_text(encoding="utf-8")
    run = {m.start("body") for m in BLOCK.finditer(text)}
    found = []
    for match in re.finditer(r"```console\n(.*?)```\n", text, re.DOTALL):
        shows_output = any(not line.startswith("$ ") for line in match[1].splitlines())
        if shows_output and match.start(1) not in run:
            found.append(match[1].splitlines()[0])
    return found


class Normaliser:
    """Replaces what changes from run to run with fixed values, the same within a page."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.backup_ids: dict[str, str] = {}

    def _backup_id(self, match: re.Match[str]) -> str:
        return self.backup_ids.setdefault(
            match[0], f"20261205-120000-{len(self.backup_ids) + 1:06d}"
        )

    def __call__(self, line: str) -> str:
        for path in (str(self.project), str(self.project.resolve())):
            line = line.replace(path, "~/app")
        line = re.sub(r"\b\d{8}-\d{6}-\d{6}\b", self._backup_id, line)
        line = re.sub(
            r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", "2026-12-05T12:00:00+00:00", line
        )
        line = re.sub(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b", "2026-12-05 12:00:00", line)
        line = re.sub(r"(?<![\d.])\d+\.\d\d s\b", "0.01 s", line)
        line = re.sub(r"\b[0-9a-f]{32}\b", "0123456789abcdef0123456789abcdef", line)
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:9000", line)
        return line.rstrip()


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether `actual` is `shown`, where a line `…` stands for one or more lines."""
    pattern = "\n".join(".+?" if line == ELLIPSIS else re.escape(line) for line in shown)
    return re.fullmatch(pattern, "\n".join(actual), re.DOTALL) is not None


def elided(shown: list[str], actual: list[str]) -> list[str]:
    """`actual`, shortened where `shown` had `…`, keeping as many lines around it as before."""
    if ELLIPSIS not in shown:
        return actual
    head = shown.index(ELLIPSIS)
    tail = len(shown) - 1 - max(i for i, line in enumerate(shown) if line == ELLIPSIS)
    if head + tail >= len(actual):
        return actual
    return [*actual[:head], ELLIPSIS, *actual[len(actual) - tail :]]


def make_fastopp_with_core_storage(root: Path) -> Path:
    """FastOpp's main as tests/test_fastopp_storage.py shapes it: its storage in core/services."""
    from tests import projects

    project = projects.make_fastopp_current(root / "fastopp")
    shutil.copytree(
        PROJECT_ROOT / "tests" / "fastopp_storage",
        project / "core/services/storage",
        ignore=shutil.ignore_patterns("__pycache__", "README.md"),
    )
    for folder in ("core", "core/services"):
        (project / folder / "__init__.py").write_text("")
    shutil.rmtree(project / "services/storage")
    shutil.rmtree(project / "demo_assets/services/storage")
    return project


class Runner:
    """Projects, the S3 server and the environment the examples run in."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.count = 0
        self.endpoint = ""
        self.server: object | None = None
        bin_dir = Path(sys.executable).parent
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "100",
            "OPPDEMO_CACHE_DIR": str(scratch / "cache"),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_ACCESS_KEY": ACCESS_KEY,
            "S3_SECRET_KEY": SECRET_KEY,
        }
        for name in list(self.env):
            if name.startswith(("STORAGE_", "S3_", "UPLOAD_")) and name not in (
                "S3_ACCESS_KEY",
                "S3_SECRET_KEY",
            ):
                del self.env[name]

    def new_project(self, kind: str) -> Path:
        sys.path.insert(0, str(PROJECT_ROOT))
        from tests import projects

        builders: dict[str, Callable[[Path], Path]] = {
            "fastopp-2025": projects.make_fastopp_2025,
            "fastopp": make_fastopp_with_core_storage,
            "demo": projects.make_demo_project,
        }
        self.count += 1
        root = self.scratch / f"p{self.count}"
        root.mkdir()
        if kind not in builders:
            raise SystemExit(f"unknown project {kind!r}: one of {', '.join(builders)}")
        return builders[kind](root)

    def bucket(self, name: str) -> None:
        import boto3

        if not self.endpoint:
            import logging

            from moto.server import ThreadedMotoServer

            # The server's request log is not the examples' output.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            self.server = server
            self.endpoint = f"http://{host}:{port}"
            self.env["S3_ENDPOINT"] = self.endpoint
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )
        try:
            for item in client.list_objects_v2(Bucket=name).get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
            client.delete_bucket_cors(Bucket=name)
        except client.exceptions.NoSuchBucket:
            client.create_bucket(Bucket=name)

    def run(
        self, project: Path, setup: list[str], commands: list[str]
    ) -> list[tuple[list[str], int]]:
        """Each command's output lines and exit code, in order."""
        script = ["exec 2>&1", "{", ":", *setup, "} >/dev/null"]
        for command in commands:
            script += [command, "__rc=$?", f'echo "{MARK} $__rc"', "(exit $__rc)"]
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
        )
        parts = re.split(rf"^{MARK} (\d+)\n", done.stdout, flags=re.MULTILINE)
        # [output, code, output, code, ..., rest]: a command that never ended has no code.
        return [(parts[i].splitlines(), int(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()  # type: ignore[attr-defined]


def run_page(page: Path, runner: Runner, update: bool) -> Result:
    text = page.read_text(encoding="utf-8")
    result = Result(page.relative_to(DOCS).as_posix(), text=text)
    project: Path | None = None
    normalise: Normaliser | None = None
    normalise_shown: Normaliser | None = None
    replacements: list[tuple[int, int, str]] = []
    for example in examples(page):
        kind = example.directive.get("project")
        if kind:
            project = runner.new_project(kind[0])
            normalise = Normaliser(project)
            # Its own numbering: ids are matched by order of appearance on each side.
            normalise_shown = Normaliser(project)
        if project is None or normalise is None or normalise_shown is None:
            raise SystemExit(f"{result.page}: the first example needs a `project:` line")
        for bucket in example.directive.get("bucket", []):
            runner.bucket(bucket)
        outputs = runner.run(
            project, example.directive.get("setup", []), [c for c, _ in example.commands]
        )
        body = []
        expected_failures = set(example.directive.get("fails", []))
        for index, ((command, shown), (output, code)) in enumerate(
            zip(example.commands, outputs, strict=False)
        ):
            checked = index + 1 < len(example.commands) and example.commands[index + 1][0] == (
                "echo $?"
            )
            if (code != 0) != (command in expected_failures or checked):
                # An error message must never be written into the docs as if it were output.
                result.stale.append(
                    f"{result.page}: $ {command} exited {code}; a failure is shown only when the "
                    "<!-- run --> comment lists it (`fails: COMMAND`) or `echo $?` follows it"
                )
            actual = [normalise(line) for line in output]
            shown = [normalise_shown(line) for line in shown]
            if not matches(shown, actual):
                diff = difflib.unified_diff(shown, actual, "shown", "printed", lineterm="")
                result.stale.append(f"{result.page}: $ {command}\n" + "\n".join(diff))
            body += [f"$ {command}", *elided(shown, actual)]
        replacements.append((example.start, example.end, "\n".join(body) + "\n"))
    if update:
        for start, end, body_text in reversed(replacements):
            text = text[:start] + body_text + text[end:]
        result.text = text
    return result


def main(arguments: list[str]) -> int:
    update = arguments == ["--update"]
    if arguments and not update:
        print("usage: doc_examples.py [--update]", file=sys.stderr)
        return 2
    pages = sorted(DOCS.rglob("*.md"))
    problems: list[str] = []
    for page in pages:
        if page.relative_to(DOCS).as_posix() not in NOT_RUN:
            for first_line in unrun_blocks(page):
                problems.append(
                    f"{page.relative_to(DOCS)}: the block starting `{first_line}` shows output "
                    "but has no <!-- run --> comment"
                )
    scratch = Path(tempfile.mkdtemp(prefix="oppdemo-docs-"))
    runner = Runner(scratch)
    try:
        for page in pages:
            if not BLOCK.search(page.read_text(encoding="utf-8")):
                continue
            result = run_page(page, runner, update)
            if update:
                page.write_text(result.text, encoding="utf-8", newline="\n")
                problems += [p for p in result.stale if " exited " in p]
            else:
                problems += result.stale
    finally:
        runner.close()
        shutil.rmtree(scratch, ignore_errors=True)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        if not update:
            print(
                "The docs show output the commands no longer print: run "
                "`uv run python scripts/doc_examples.py --update` and commit docs/.",
                file=sys.stderr,
            )
        return 1
    print("Rewrote the examples' output." if update else "Every example prints what it shows.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
