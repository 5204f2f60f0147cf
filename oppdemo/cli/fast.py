"""`oppdemo diff` without Typer, for the drift gate a pre-commit hook runs on every commit.

Only the plainest calls take this path: `[-C DIR] diff [--format text|github] [--json]` with
its output going to a pipe or a file. Anything else (a terminal, --help, --patch, any other
option, any error) returns None and runs through the full command line, which gives the same
answer: diff changes nothing, so running it twice is harmless.
"""

from __future__ import annotations

import sys
from pathlib import Path


def fast_diff(argv: list[str]) -> int | None:
    """The exit code of a plain piped `diff`, or None when the full CLI must run it."""
    options = _parse(argv)
    if options is None:
        return None
    project, output_format, as_json = options
    if not as_json and output_format == "text" and sys.stdout.isatty():
        return None  # a terminal gets colour: rich, through the full CLI
    from oppdemo.assets.commands import diff
    from oppdemo.assets.root import find_root
    from oppdemo.cli import plain
    from oppdemo.errors import EXIT_DRIFT, EXIT_OK, OppdemoError

    project = find_root(project)
    try:
        report = diff(project, staged=plain.in_pre_commit())
    except OppdemoError:
        return None  # the full CLI words the error
    if as_json:
        import json

        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif output_format == "github":
        plain.drift_github(report, project)
    else:
        plain.drift(report, project.resolve(), with_patch=False)
    return EXIT_OK if report.in_sync else EXIT_DRIFT


def _parse(argv: list[str]) -> tuple[Path, str, bool] | None:
    project, output_format, as_json = Path("."), "text", False
    words = list(argv)
    while words and words[0] != "diff":
        word = words.pop(0)
        if word in ("-C", "--project-dir") and words:
            project = Path(words.pop(0))
        elif word.startswith("--project-dir="):
            project = Path(word.partition("=")[2])
        else:
            return None
    if not words:
        return None
    words.pop(0)
    while words:
        word = words.pop(0)
        if word == "--json":
            as_json = True
        elif word == "--format" and words and words[0] in ("text", "github"):
            output_format = words.pop(0)
        elif word in ("--format=text", "--format=github"):
            output_format = word.partition("=")[2]
        else:
            return None
    return project, output_format, as_json
