"""Output for pipes and machines, without rich: `diff` is what a pre-commit hook runs on every
commit, and rich's console alone costs as much start-up as Typer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oppdemo.assets.compare import DriftReport

LETTERS = {"added": ("A", "green"), "modified": ("M", "yellow"), "deleted": ("D", "red")}


def drift_lines(
    report: DriftReport, root: Path, with_patch: bool
) -> Iterator[tuple[str, str | None, str]]:
    """Each line of the drift report: its text, the colour of its styled head (None for a
    patch, shown dim), and that head. With drift, only what drifted is listed."""
    if report.state != "demo":
        message = state_message(report)
        yield message, "green", message.partition(":")[0] + ":"
        return
    for asset in report.assets:
        if asset.in_sync:
            if report.in_sync:
                yield f"= {asset.path}: in sync with {asset.saved}", "green", "="
            continue
        rows = [(path, state) for state in LETTERS for path in getattr(asset, state)]
        for path, state in sorted(rows):
            letter, colour = LETTERS[state]
            yield f"{letter} {path}", colour, letter
            if with_patch:
                from oppdemo.assets.patch import file_patch

                text = file_patch(root, asset.saved_counterpart(path), path)
                if text:
                    yield text, None, ""
        yield (
            f"{asset.path}: {len(asset.added)} added, {len(asset.modified)} modified, "
            f"{len(asset.deleted)} deleted since the last save",
            "",
            "",
        )
    if report.in_sync:
        yield "In sync: the snapshot matches the working files.", "green", "In sync:"
    elif in_pre_commit():
        # pre-commit checks what is staged: it sets unstaged changes aside while hooks run.
        if report.saved_unstaged:
            step = f"the last `oppdemo save` is not staged: run `git add {report.snapshot}/`"
        else:
            step = f"run `oppdemo save` and `git add {report.snapshot}/`"
        yield f"Drift: {step}, then commit again.", "yellow", "Drift:"
    else:
        yield (
            "Drift: run `oppdemo save` to update the snapshot, "
            "or `oppdemo restore` to discard the working changes.",
            "yellow",
            "Drift:",
        )


def in_pre_commit() -> bool:
    import os

    return os.environ.get("PRE_COMMIT") == "1"  # set by pre-commit for its hooks since 2.5


def state_message(report: DriftReport) -> str:
    """The one line of `diff` for a destroyed project, or one without demo machinery."""
    if report.state == "destroyed":
        return (
            f"Destroyed: the demo was removed by `oppdemo destroy` and is kept in "
            f"{report.snapshot}/; `oppdemo restore` brings it back. Nothing to compare."
        )
    return (
        f"No demo machinery: this project has no [tool.oppdemo] table and no "
        f"{report.snapshot}/, so there is nothing to compare; `oppdemo init` sets it up."
    )


def drift(report: DriftReport, root: Path, with_patch: bool) -> None:
    for text, colour, _ in drift_lines(report, root, with_patch):
        sys.stdout.write(text if colour is None else f"{text}\n")


def drift_github(report: DriftReport, root: Path) -> None:
    """GitHub Actions workflow commands: one error annotation per drifted file, its path from
    the folder the command runs in (the repository root, where GitHub reads it)."""
    import os

    folder = os.path.relpath(root.resolve(), Path.cwd().resolve()).replace(os.sep, "/")
    inside = folder != "." and not folder.startswith("..")
    prefix = f"{folder}/" if inside else ""
    save = f"oppdemo -C {folder} save" if inside else "oppdemo save"
    for asset in report.assets:
        for state in LETTERS:
            for path in getattr(asset, state):
                snapshot = asset.saved.split("/")[0]
                message = (
                    f"{prefix}{path} was {state} since the last `oppdemo save`; "
                    f"run `{save}` and commit {prefix}{snapshot}/."
                )
                sys.stdout.write(
                    f"::error file={_github_property(prefix + path)},title=Demo assets drift::"
                    f"{_github_data(message)}\n"
                )
    if report.state != "demo":
        sys.stdout.write(f"::notice title=Demo assets::{_github_data(state_message(report))}\n")
        summary = "destroyed" if report.state == "destroyed" else "no demo machinery"
    else:
        summary = "in sync" if report.in_sync else "drift found"
    sys.stdout.write(f"oppdemo diff: {summary}\n")


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def shown(text: str) -> str:
    """`text` safe to print on a terminal: control characters (an escape sequence in a key
    would clear the screen or retitle the window), other unprintable characters and the
    undecodable bytes of a name that is not UTF-8 are written as Python escapes (\\x1b)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
