"""How results look: rich on a terminal, plain stable lines when piped, GitHub annotations."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from rich.console import Console
from rich.markup import escape

from oppdemo.cli import plain

if TYPE_CHECKING:
    from demo_scripts.download_sample_photos import PhotoResult, SeedReport
    from oppdemo.assets.backups import BackupSummary, PrunePlan
    from oppdemo.assets.commands import InitOutcome, Outcome
    from oppdemo.assets.compare import DriftReport
    from oppdemo.storage.check import CheckReport, CheckStep
    from oppdemo.storage.migration import MigrationPlan, MigrationReport, StepResult
    from services.storage.base import FileInfo

_PAST_TENSE = {
    "save": "Saved",
    "restore": "Restored",
    "destroy": "Destroyed",
    "eject": "Ejected",
    "undo": "Undone",
    "init": "Initialised",
}
_MAX_LISTED = 30


def drift(console: Console, report: DriftReport, root: Path, with_patch: bool) -> None:
    """One line per changed file (letter and path, sorted), then a summary per asset; in
    colour (the text is `plain.drift_lines`', which is what a pipe gets)."""
    for text, colour, styled in plain.drift_lines(report, root, with_patch):
        if colour is None:
            console.print(escape(text), end="", style="dim")
        else:
            rest = escape(text[len(styled) :])
            console.print(f"[{colour}]{escape(styled)}[/]{rest}" if styled else rest)


def outcome(console: Console, result: Outcome, dry_run: bool, every: bool = False) -> None:
    """The files the plan changes, then a one-line summary. All of them when piped, on a dry
    run or with `every` (--verbose); on a terminal a long list is cut, naming --verbose.
    Making a folder is an internal step: never listed, never counted."""
    plan = result.plan
    shown = [operation for operation in plan.operations if operation.action != "mkdir"]
    whole = dry_run or every or not console.is_terminal
    listed = shown if whole else shown[:_MAX_LISTED]
    for operation in listed:
        suffix = "/" if operation.kind == "dir" else ""
        console.print(f"{operation.verb} {escape(operation.path)}{suffix}")
    if len(shown) > len(listed):
        console.print(f"… and {len(shown) - len(listed)} more (--verbose lists every file)")
    counts = ", ".join(
        f"{plan.count(verb)} {label}"
        for verb, label in (("copy", "copied"), ("overwrite", "overwritten"), ("remove", "removed"))
    )
    if dry_run:
        console.print(f"Dry run: {plan.command} would leave {counts}; nothing was changed.")
    elif result.record is None:
        console.print(f"Nothing to {plan.command}: everything is already in place.")
    else:
        console.print(
            f"{_PAST_TENSE[plan.command]}: {counts}. Backup {result.record.id}; "
            f"`{result.undo_command}` puts it back."
        )


def discovery(console: Console, result: InitOutcome, dry_run: bool) -> None:
    """Each asset found (working path, saved path, base), what was skipped and why, the change."""
    found = result.discovery
    for asset in found.assets:
        base = f"  base {escape(asset.base)}" if asset.base else ""
        saved = escape(f"{found.snapshot}/{asset.saved}")
        console.print(f"asset {escape(asset.path)}  saved {saved}{base}")
    for item in found.skipped:
        console.print(f"[dim]skip[/]  {escape(item.path)}: {escape(item.reason)}")
    if found.storage:
        console.print(f"storage {escape(found.storage)}  (the module that provides get_storage())")
    if dry_run:
        console.print(escape(found.table), end="")
        console.print("Dry run: pyproject.toml was not changed.")
        return
    record = result.outcome.record
    assert record is not None
    console.print(
        f"Wrote \\[tool.oppdemo] with {len(found.assets)} asset(s) to pyproject.toml. "
        f"Backup {record.id}; `oppdemo undo {record.id}` puts the old file back. "
        "Next: `oppdemo diff`."
    )


def backup_table(console: Console, summaries: list[BackupSummary]) -> None:
    """Tab-separated lines when piped; on a terminal, aligned columns that fit 80 characters."""
    if not summaries:
        console.print("No backups yet.")
        return
    rows = [
        (
            item.id,
            item.command + (f" of {item.undoes}" if item.undoes else ""),
            item.created.replace("T", " ").removesuffix("+00:00"),
            str(item.files),
            _size(item.size),
            _status(item),
        )
        for item in summaries
    ]
    if not console.is_terminal:
        # Tab-separated and unstyled: rich would expand the tabs.
        console.file.write("".join("\t".join(row) + "\n" for row in rows))
        return
    # Every column on 80 characters: the time to the minute (the id holds the seconds), and
    # what does not fit a cell (the backup an undo reverses, why a backup is damaged) on a
    # line of its own below the row, where it is never cut.
    cells = [
        (
            item.id,
            item.command,
            row[2][:16],
            row[3],
            row[4],
            "damaged" if item.problem else row[5],
        )
        for item, row in zip(summaries, rows, strict=True)
    ]
    headers = ("id", "command", "time (UTC)", "files", "size", "status")
    widths = [max(len(text) for text in column) for column in zip(headers, *cells, strict=True)]

    def line(texts: tuple[str, ...]) -> str:
        padded = [
            text.rjust(width) if index in (3, 4) else text.ljust(width)
            for index, (text, width) in enumerate(zip(texts, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    console.print(f"[bold]{escape(line(headers))}[/]")
    indent = " " * (widths[0] + 2)
    for item, texts in zip(summaries, cells, strict=True):
        text = escape(line(texts))
        console.print(text if item.complete and not item.problem else f"[red]{text}[/]")
        if item.undoes:
            console.print(f"{indent}of {escape(item.undoes)}")
        if item.problem:
            console.print(f"{indent}[red]damaged: {escape(item.problem)}[/]")


def _status(item: BackupSummary) -> str:
    if item.problem is not None:
        return f"damaged: {item.problem}"
    return "complete" if item.complete else "interrupted"


def prune_report(console: Console, plan: PrunePlan, dry_run: bool) -> None:
    """Each backup removed (or to be removed), each kept although it matched, and the total."""
    verb = "would remove" if dry_run else "removed"
    for item in plan.remove:
        console.print(f"{verb} {item.id}  {escape(item.command)}  {_size(item.size)}")
    for item, reason in plan.protected:
        console.print(f"[yellow]kept[/] {item.id}: {escape(reason)}")
    total = f"{len(plan.remove)} backup(s), {_size(plan.size)}"
    if dry_run:
        console.print(f"Dry run: prune would remove {total}; nothing was changed.")
    elif plan.remove:
        console.print(f"Pruned {total}.")
    else:
        console.print("Nothing to prune.")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


_PHOTO_WORDS = {
    "downloaded": ("downloaded", "green"),
    "copied": ("copied", "green"),
    "skipped": ("skipped", "cyan"),
    "failed": ("failed", "red"),
    "planned": ("planned", "yellow"),
}


class _LiveProgress:
    """A rich progress display shown while the `with` block runs, when there is one."""

    _progress: Any = None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()


class PhotoProgress(_LiveProgress):
    """A progress bar with a line per photo on a terminal; silent (lines come later) otherwise."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.streamed = console.is_terminal
        self._progress = None
        self._task = None
        if self.streamed:
            from rich.progress import Progress

            self._progress = Progress(console=console, transient=True)
            self._task = self._progress.add_task("Seeding photos", total=total)

    def show(self, result: PhotoResult) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.console.print(_photo_line(result))
            self._progress.advance(self._task)


def photo_report(console: Console, report: SeedReport, streamed: bool) -> None:
    """Each photo's status and URL (or reason), then the summary and the backend."""
    if not streamed:
        for result in report.results:
            console.print(_photo_line(result))
    copied = report.count("copied")
    counts = [
        f"{report.count('downloaded')} downloaded",
        *([f"{copied} copied"] if copied else []),
        f"{report.count('skipped')} skipped",
        f"{len(report.failed)} failed",
    ]
    planned = report.count("planned")
    if planned:
        counts.append(f"{planned} to save (dry run, nothing written)")
    console.print(f"Summary: {', '.join(counts)}; storage: {escape(report.backend)}")
    if report.results and len(report.failed) == len(report.results):
        console.print(
            "No photo could be saved: check the network (or the reasons above), "
            "or seed offline with --source DIR."
        )


def _photo_line(result: PhotoResult) -> str:
    word, colour = _PHOTO_WORDS[result.status]
    detail = result.reason if result.status == "failed" else result.url
    return f"[{colour}]{word:<10}[/] {escape(result.key)}  {escape(detail or '')}"


def storage_listing(listing: Iterable[FileInfo], long: bool, as_json: bool) -> None:
    """Stored keys as they arrive, a line each: plain text (with --long, size and time) or
    JSON lines. Written straight to stdout, so a long listing starts at once."""
    import json
    import sys

    write = sys.stdout.write
    for info in listing:
        modified = info.modified.isoformat(timespec="seconds") if info.modified else ""
        if as_json:
            record = {"key": info.key, "size": info.size, "modified": modified or None}
            # The key as stored, escaped by JSON: every character JSON does not escape itself
            # (DEL, C1 controls, the bytes of a name that is not UTF-8) as \u escapes too.
            raw = info.key.isprintable()
            write(json.dumps(record, ensure_ascii=not raw) + "\n")
        elif long:
            write(f"{info.size:>12}  {modified:<25}  {plain.shown(info.key)}\n")
        else:
            write(f"{plain.shown(info.key)}\n")
    sys.stdout.flush()


def check_step(console: Console, step: CheckStep) -> None:
    """One line per step of `storage check`: mark, name, time, detail."""
    mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[dim]-[/]"}[step.ok]
    timing = f"{step.seconds:6.2f} s" if step.ok is not None else " " * 8
    console.print(f"{mark} {step.name:<22} {timing}  {escape(step.detail)}")


def check_summary(console: Console, report: CheckReport) -> None:
    failed = [step for step in report.steps if step.ok is False]
    if not failed:
        console.print(f"[green]Storage OK:[/] {escape(report.backend)} passed every check.")
    else:
        where = "its" if len(failed) == 1 else "each one's"
        console.print(
            f"[red]Check failed:[/] {escape(', '.join(report.failed))} ({len(failed)} of "
            f"{len(report.steps)} steps failed; the fix is on {where} line)."
        )


_LINK = "a symbolic link, never followed: store its target under this key to move it"


def migration_plan(console: Console, plan: MigrationPlan) -> None:
    """A dry run: each key to copy or delete, and why."""
    for step in plan.steps:
        verb = "copy" if step.action == "copy" else "delete"
        console.print(f"{verb:<7} {_key(step.key)}  ({step.reason}, {_size(step.size)})")
    for key in plan.skipped:
        console.print(f"skip    {_key(key)}  (a folder marker, never copied)")
    for key in plan.links:
        console.print(f"skip    {_key(key)}  ({_LINK})")
    copies = [step for step in plan.steps if step.action == "copy"]
    console.print(
        f"Dry run: {len(copies)} to copy ({_size(plan.bytes_to_copy)}), "
        f"{len(plan.steps) - len(copies)} to delete, {plan.unchanged} unchanged, "
        f"{len(plan.skipped) + len(plan.links)} skipped; "
        f"{escape(plan.source)} → {escape(plan.target)}; nothing was changed."
    )


class MigrationProgress(_LiveProgress):
    """A bar with files and bytes on a terminal; nothing until the end otherwise."""

    def __init__(self, console: Console, plan: MigrationPlan) -> None:
        self.streamed = console.is_terminal
        if self.streamed and plan.steps:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console,
                transient=True,
            )
            # One bar of bytes; the files done so far are counted in its description.
            self._files, self._done = len(plan.steps), 0
            self._task = self._progress.add_task(self._label(), total=max(plan.bytes_to_copy, 1))

    def _label(self) -> str:
        return f"{self._done}/{self._files} files"

    def show(self, result: StepResult) -> None:
        if self._progress is None:
            return
        self._progress.console.print(_migration_line(result))
        self._done += 1
        copied = result.step.size if result.step.action == "copy" else 0
        self._progress.update(self._task, advance=copied, description=self._label())


def migration_report(console: Console, report: MigrationReport, streamed: bool) -> None:
    if not streamed:
        for result in report.results:
            console.print(_migration_line(result))
    for key in report.plan.skipped:
        console.print(f"[cyan]skipped [/] {_key(key)}  a folder marker, never copied")
    for key in report.plan.links:
        console.print(f"[cyan]skipped [/] {_key(key)}  {_LINK}")
    copied = sum(r.step.size for r in report.results if r.outcome == "copied")
    console.print(
        f"Migrated: {report.count('copied')} copied ({_size(copied)}, {report.method}; "
        f"{_size(report.bytes_read)} read here), {report.count('deleted')} deleted, "
        f"{report.plan.unchanged} unchanged, "
        f"{len(report.plan.skipped) + len(report.plan.links) + report.count('skipped')} "
        "skipped, "
        f"{len(report.failed)} failed, {report.count('not run')} not run; "
        f"{escape(report.plan.source)} → {escape(report.plan.target)}"
    )
    lasting = [result for result in report.failed if result.lasting]
    if len(lasting) < len(report.failed) or report.count("not run"):
        console.print("Run the same command again to finish: what was copied stays.")
    if lasting:
        console.print(
            f"{len(lasting)} key(s) cannot be stored in the target as named (see each line): "
            "rename them in the source, or leave them out; a rerun fails them again."
        )


def _migration_line(result: StepResult) -> str:
    colour = {
        "copied": "green",
        "deleted": "yellow",
        "failed": "red",
        "planned": "cyan",
        "not run": "magenta",
        "skipped": "cyan",
    }
    detail = (
        result.error if result.outcome in ("failed", "not run", "skipped") else result.step.reason
    )
    return (
        f"[{colour[result.outcome]}]{result.outcome:<8}[/] {_key(result.step.key)}  "
        f"{_key(detail or '')}"
    )


def _key(text: str) -> str:
    """A key (or a message naming one) for rich: its markup and control characters escaped."""
    return escape(plain.shown(text))
