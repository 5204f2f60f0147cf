"""oppdemo: keep a FastOpp-style project's demo files in step with their saved snapshot.

Run from the project root: `uv run python oppdemo.py diff | save | restore | destroy | ...`.
This module only parses options, calls one core function per command, renders the result and
picks the exit code; the work happens in `oppdemo_core`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from oppdemo_core.errors import EXIT_DRIFT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, OppdemoError

if TYPE_CHECKING:
    from rich.console import Console

    from oppdemo_core.backups import PrunePlan
    from oppdemo_core.commands import Outcome

T = TypeVar("T")

# Plain help and plain tracebacks: rich's help renderer costs ~100 ms of start-up, and a plain
# traceback (for bugs only) never prints local variables that could hold a secret.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Save, restore, destroy and diff the demo assets of a FastOpp-style project.",
)

DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help="Print the plan and change nothing.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


class Format(StrEnum):
    text = "text"
    github = "github"


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False), Console(stderr=True, soft_wrap=True)


def _run(action: Callable[[], T]) -> T:
    """Call the core; turn an expected failure into one sentence on stderr and exit code 2."""
    try:
        return action()
    except OppdemoError as error:
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        # Changing commands defer Ctrl-C while they change files; this is planning or reading.
        _fail("Interrupted before anything was changed.", EXIT_INTERRUPTED)


@app.callback()
def main(
    ctx: typer.Context,
    project_dir: Annotated[
        Path,
        typer.Option("--project-dir", "-C", help="The project root (default: this folder)."),
    ] = Path("."),
) -> None:
    """Keep demo files (services/storage, demo_scripts, ...) in step with demo_assets/."""
    ctx.obj = project_dir


@app.command()
def diff(
    ctx: typer.Context,
    as_json: AsJson = False,
    patch: Annotated[
        bool, typer.Option("--patch", help="Show unified diffs of text files.")
    ] = False,
    output_format: Annotated[
        Format, typer.Option("--format", help="text, or github for Actions annotations.")
    ] = Format.text,
) -> None:
    """Compare the working files with the snapshot: exit 0 in sync, 1 drift, 2 error."""
    from oppdemo_core import commands, render

    root: Path = ctx.obj
    report = _run(lambda: commands.diff(root))
    console, _ = _consoles()
    if as_json:
        _print_json(report.to_dict())
    elif output_format is Format.github:
        render.drift_github(console, report)
    else:
        render.drift(console, report, root.resolve(), patch)
    raise typer.Exit(EXIT_OK if report.in_sync else EXIT_DRIFT)


@app.command()
def save(ctx: typer.Context, dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Copy the working files into the snapshot (a mirror: deletions are saved too)."""
    from oppdemo_core import commands

    _show(_run(lambda: commands.save(ctx.obj, dry_run=dry_run)), dry_run, as_json)


@app.command()
def restore(ctx: typer.Context, dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Copy the snapshot back over the working files (a mirror)."""
    from oppdemo_core import commands

    _show(_run(lambda: commands.restore(ctx.obj, dry_run=dry_run)), dry_run, as_json)


@app.command()
def destroy(
    ctx: typer.Context,
    dry_run: DryRun = False,
    force: Annotated[
        bool, typer.Option("--force", help="Destroy even with unsaved changes.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
) -> None:
    """Remove the demo assets from the working tree, leaving a minimal project."""
    from oppdemo_core import commands

    if dry_run or not yes:
        # The plan is needed to show it, or to say what the confirmation is for.
        preview = _run(lambda: commands.destroy(ctx.obj, dry_run=True, force=force))
        if dry_run or not preview.plan.operations:
            _show(preview, True, as_json)
            return
        if not sys.stdin.isatty():
            _fail(
                "destroy removes files and needs confirmation: "
                "pass --yes when not running in a terminal."
            )
        files = preview.plan.count("remove") + preview.plan.count("overwrite")
        typer.confirm(
            f"Remove {files} demo file(s) from the working tree? (a backup is kept)", abort=True
        )
    _show(_run(lambda: commands.destroy(ctx.obj, force=force)), False, as_json)


@app.command()
def undo(
    ctx: typer.Context,
    backup_id: Annotated[
        str | None, typer.Argument(help="The backup to reverse (default: the latest).")
    ] = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Put the files back as they were before a save, restore, destroy or undo."""
    from oppdemo_core import commands

    _show(_run(lambda: commands.undo(ctx.obj, backup_id, dry_run=dry_run)), dry_run, as_json)


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing [tool.oppdemo] table.")
    ] = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Write [tool.oppdemo] into pyproject.toml for the assets found in demo_assets/."""
    from oppdemo_core import commands, render

    result = _run(lambda: commands.init(ctx.obj, force=force, dry_run=dry_run))
    if as_json:
        _print_json(result.to_dict())
    else:
        render.discovery(_consoles()[0], result, dry_run)


@app.command()
def backups(
    ctx: typer.Context,
    prune: Annotated[bool, typer.Option("--prune", help="Remove old backups.")] = False,
    keep: Annotated[
        int | None, typer.Option("--keep", min=0, help="With --prune: keep the N newest.")
    ] = None,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", min=0, help="With --prune: only those older than DAYS."),
    ] = None,
    dry_run: DryRun = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
) -> None:
    """List the backups (id, command, time, files, size), or remove old ones with --prune."""
    from dataclasses import asdict

    from oppdemo_core import commands, render

    if not prune:
        if keep is not None or older_than is not None:
            _fail("--keep and --older-than choose what --prune removes: add --prune.")
        summaries = _run(lambda: commands.backups(ctx.obj))
        if as_json:
            _print_json([asdict(summary) for summary in summaries])
        else:
            render.backup_table(_consoles()[0], summaries)
        return

    def run(preview: bool) -> PrunePlan:
        return _run(lambda: commands.prune_backups(ctx.obj, keep, older_than, dry_run=preview))

    plan = run(True)
    if not dry_run and plan.remove:
        if not yes:
            if not sys.stdin.isatty():
                _fail(
                    "pruning removes backups and needs confirmation: "
                    "pass --yes when not running in a terminal."
                )
            typer.confirm(f"Remove {len(plan.remove)} backup(s)?", abort=True)
        plan = run(False)
    if as_json:
        _print_json(
            {
                "dry_run": dry_run,
                "removed": [item.id for item in plan.remove],
                "kept": [{"id": item.id, "reason": reason} for item, reason in plan.protected],
                "bytes": plan.size,
            }
        )
    else:
        render.prune_report(_consoles()[0], plan, dry_run)


@app.command("download-sample-photos")
def download_sample_photos(
    ctx: typer.Context,
    catalog: Annotated[
        Path | None, typer.Option(help="A JSON catalog of photos (default: the demo's own).")
    ] = None,
    source: Annotated[
        Path | None, typer.Option(help="Seed from the image files in this folder instead.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace photos that are already stored.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Parallel downloads.")] = 4,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to connect, and for each read.")
    ] = 10.0,
    prefix: Annotated[str, typer.Option(help="Folder (key prefix) in storage.")] = "sample_photos",
    max_size_mb: Annotated[float, typer.Option(min=0.001, help="Largest photo accepted.")] = 10.0,
    dry_run: DryRun = False,
) -> None:
    """Seed sample photos through the storage backend (local folder or S3 bucket)."""
    import os

    from oppdemo_core import render
    from oppdemo_core.demo_code import import_demo_module

    project = Path(ctx.obj).resolve()
    catalog = catalog.resolve() if catalog else None
    source = source.resolve() if source else None
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(project)
    seeding = _run(lambda: import_demo_module(project, "demo_scripts.download_sample_photos"))
    options = seeding.SeedOptions(
        prefix=prefix,
        force=force,
        concurrency=concurrency,
        timeout=timeout,
        max_bytes=int(max_size_mb * 1024 * 1024),
        dry_run=dry_run,
    )
    console, _ = _consoles()
    try:
        storage, photos = seeding.prepare(catalog, source)
        with render.PhotoProgress(console, len(photos)) as progress:
            report = seeding.seed_photos(photos, storage, options, progress.show)
    except seeding.CONFIGURATION_ERRORS as error:
        _fail(str(error))
    render.photo_report(console, report, progress.streamed)
    raise typer.Exit(EXIT_DRIFT if report.failed else EXIT_OK)


def _fail(message: str, exit_code: int = EXIT_ERROR) -> NoReturn:
    """Print one sentence on stderr, no traceback, and exit."""
    from rich.markup import escape

    _, errors = _consoles()
    errors.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(exit_code)


def _show(result: Outcome, dry_run: bool, as_json: bool = False) -> None:
    from oppdemo_core import render

    if as_json:
        _print_json(result.to_dict())
    else:
        render.outcome(_consoles()[0], result, dry_run)


def _print_json(data: object) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    app()
