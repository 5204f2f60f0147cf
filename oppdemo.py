"""oppdemo: keep a FastOpp-style project's demo files in step with their saved snapshot.

Run from the project root: `uv run python oppdemo.py diff | save | restore | destroy | ...`.
This module only parses options, calls one core function per command, renders the result and
picks the exit code; the work happens in `oppdemo_core`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from oppdemo_core.errors import EXIT_DRIFT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, OppdemoError

if TYPE_CHECKING:
    from types import ModuleType

    from rich.console import Console

    from oppdemo_core.backups import PrunePlan
    from oppdemo_core.commands import Outcome
    from services.storage import StorageInterface

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


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Run the file-upload demo (demo_app/) with uvicorn: http://HOST:PORT."""
    import os

    from oppdemo_core.demo_code import import_demo_module

    project = Path(ctx.obj).resolve()
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(project)
    demo = _run(lambda: import_demo_module(project, "demo_app"))
    # The demo's settings errors (STORAGE_TYPE, UPLOAD_MAX_MB); the minimal app left by
    # `destroy` has no storage package to raise them.
    storage = sys.modules.get("services.storage")
    settings_errors = (ValueError, *([storage.StorageError] if storage else []))
    try:
        web_app = demo.create_app()
    except settings_errors as error:
        _fail(str(error))
    import uvicorn

    uvicorn.run(web_app, host=host, port=port, log_level="info")


storage_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Look into, check and migrate the upload storage (a local folder or an S3 bucket).",
)
app.add_typer(storage_app, name="storage")


@dataclass(frozen=True)
class StorageContext:
    project: Path
    env_file: Path | None


@storage_app.callback()
def storage_main(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="Read settings from this file instead of .env."),
    ] = None,
) -> None:
    """The same settings as get_storage(): the environment, then .env (or --env-file)."""
    project = Path(ctx.obj).resolve()
    ctx.obj = StorageContext(project, env_file.resolve() if env_file else None)


def _open_storage(ctx: typer.Context) -> tuple[ModuleType, StorageInterface]:
    """The project's storage package and the storage its settings select (exit 2 if bad)."""
    import os

    from oppdemo_core import storage_access

    context: StorageContext = ctx.obj
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(context.project)
    package = _run(lambda: storage_access.storage_package(context.project))
    env = _run(lambda: storage_access.current_settings(package, context.env_file))
    storage = _storage_call(package, lambda: package.get_storage(env))
    return package, storage


def _storage_call(package: ModuleType, action: Callable[[], T], missing_exit: int = 2) -> T:
    """Call the storage; its own errors become one sentence and an exit code, never a trace."""
    try:
        return action()
    except FileNotFoundError as error:
        _fail(str(error), missing_exit)
    except package.StorageError as error:
        _fail(str(error))


@storage_app.command("ls")
def storage_ls(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="Only keys that start with this.")] = "",
    long: Annotated[bool, typer.Option("--long", "-l", help="Add size and time.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List stored keys in order, a page at a time (key, and with --long size and time)."""
    from oppdemo_core import render

    package, storage = _open_storage(ctx)
    listing = storage.iter_files(prefix)
    _storage_call(package, lambda: render.storage_listing(listing, long, as_json))


@storage_app.command("put")
def storage_put(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The local file to upload.")],
    key: Annotated[str, typer.Argument(help="Where to store it, such as photos/a.jpg.")],
) -> None:
    """Store a local file under KEY (streamed, any size) and print its URL."""
    source = file.resolve()  # before the command moves to the project folder
    package, storage = _open_storage(ctx)
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        _fail(f"Cannot read {file} ({error.strerror}): check the path.")
    with stream:
        url = _storage_call(package, lambda: storage.save_stream(stream, key))
    print(url)


@storage_app.command("get")
def storage_get(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The stored key.")],
    dest: Annotated[
        str | None, typer.Argument(help="A new local file, or - for standard output.")
    ] = None,
) -> None:
    """Copy a stored file to DEST (default: its name, here), or to standard output with -."""
    from pathlib import PurePosixPath

    from oppdemo_core.storage_files import download

    if dest == "-":
        target = None
    else:  # resolved before the command moves to the project folder
        target = Path(dest).resolve() if dest else Path.cwd() / PurePosixPath(key).name
    package, storage = _open_storage(ctx)
    written = _storage_call(package, lambda: _run(lambda: download(storage, key, target)), 1)
    if written is not None:
        print(f"{key} -> {written}")


@storage_app.command("rm")
def storage_rm(
    ctx: typer.Context,
    keys: Annotated[list[str], typer.Argument(help="The keys to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete stored keys (each is first copied into the backups folder's storage/)."""
    from oppdemo_core.storage_access import ObjectBackup

    package, storage = _open_storage(ctx)
    if len(keys) > 1 and not yes:
        if not sys.stdin.isatty():
            _fail("Deleting several keys needs confirmation: pass --yes when not in a terminal.")
        typer.confirm(f"Delete {len(keys)} stored files? (a copy is kept)", abort=True)
    backup = _run(lambda: ObjectBackup(package, ctx.obj.project))
    missing = 0
    for key in keys:
        _storage_call(package, lambda key=key: backup.keep(storage, key))  # type: ignore[misc]
        if _storage_call(package, lambda key=key: storage.delete_file(key)):  # type: ignore[misc]
            print(f"deleted {key}")
        else:
            print(f"not found {key}")
            missing += 1
    if backup.kept:
        where = backup.where(ctx.obj.project)
        print(f"A copy of each deleted file is in {where}/: `oppdemo.py storage put` restores one.")
    raise typer.Exit(EXIT_DRIFT if missing else EXIT_OK)


@storage_app.command("url")
def storage_url(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="The stored key.")]
) -> None:
    """Print the URL that serves KEY (CDN, public or presigned on S3)."""
    package, storage = _open_storage(ctx)
    print(_storage_call(package, lambda: storage.get_file_url(key)))


@storage_app.command("check")
def storage_check(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option(help="Filesystem: the running app's address, such as http://127.0.0.1:8000."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Try every step of using the storage, timed; exit 1 when one fails, naming the fix."""
    import os

    from oppdemo_core import render, storage_access
    from oppdemo_core.storage_check import check_storage

    context: StorageContext = ctx.obj
    os.chdir(context.project)
    package = _run(lambda: storage_access.storage_package(context.project))
    env = _run(lambda: storage_access.current_settings(package, context.env_file))
    console, _ = _consoles()
    show = None if as_json else (lambda step: render.check_step(console, step))
    report = check_storage(package, env, base_url, show)
    if as_json:
        _print_json(report.to_dict())
    else:
        render.check_summary(console, report)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_DRIFT)


@storage_app.command("migrate")
def storage_migrate(
    ctx: typer.Context,
    to: Annotated[Path, typer.Option("--to", help="Settings file of the target storage.")],
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Settings file of the source (default: current settings)."),
    ] = None,
    delete: Annotated[
        bool, typer.Option("--delete", help="Also delete target keys absent from the source.")
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Parallel copies (8; 16 when the server copies)."),
    ] = None,
    dry_run: DryRun = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
) -> None:
    """Copy every file that is missing or differs from one storage to another."""
    import os

    from oppdemo_core import interrupt, migration, render, storage_access, storage_location

    context: StorageContext = ctx.obj
    source_file, target_file = (source.resolve() if source else None), to.resolve()
    os.chdir(context.project)
    package = _run(lambda: storage_access.storage_package(context.project))
    source_env = _run(
        lambda: (
            storage_access.file_settings(source_file)
            if source_file
            else storage_access.current_settings(package, context.env_file)
        )
    )
    target_env = _run(lambda: storage_access.file_settings(target_file))
    # Refused before anything is read or written: the same data, or one inside the other.
    _run(
        lambda: storage_location.refuse_overlap(
            storage_location.storage_location(source_env, context.project),
            storage_location.storage_location(target_env, context.project),
        )
    )
    backup = _run(lambda: storage_access.ObjectBackup(package, context.project))
    origin = _storage_call(package, lambda: package.get_storage(source_env))
    console, _ = _consoles()
    # The target (for S3: botocore and a client) is made while the source is read.
    plan, target = _run(
        lambda: _storage_call(
            package,
            lambda: migration.plan_migration(
                origin, lambda: package.get_storage(target_env), delete, concurrency or 8
            ),
        )
    )
    deletions = sum(1 for step in plan.steps if step.action == "delete")
    if dry_run:
        if as_json:
            _print_json(migration.MigrationReport(plan, [
                migration.StepResult(step, "planned") for step in plan.steps
            ]).to_dict())  # fmt: skip
        else:
            render.migration_plan(console, plan)
        return
    if deletions and not yes:
        if not sys.stdin.isatty():
            _fail(
                f"--delete would delete {deletions} target file(s) and needs confirmation: "
                "pass --yes when not in a terminal (or --dry-run to see them)."
            )
        typer.confirm(f"Delete {deletions} file(s) from {target.describe()}?", abort=True)
    # Ctrl-C and SIGTERM stop the run between steps (copies in flight give up whole), and
    # the summary below says what was done and what was not.
    with interrupt.deferred_signals() as guard, render.MigrationProgress(console, plan) as progress:
        report = _storage_call(
            package,
            lambda: migration.run_migration(
                plan, origin, target, concurrency, progress.show,
                (package.StorageError, OSError), backup.keep, lambda: guard.received,
            ),
        )  # fmt: skip
    kept_in = backup.where(context.project) if backup.kept else None
    if as_json:
        _print_json({**report.to_dict(), "backups": kept_in})
    else:
        render.migration_report(console, report, progress.streamed)
        if kept_in:
            console.print(
                f"The {backup.kept} target file(s) replaced or deleted were first copied "
                f"into {kept_in}/."
            )
    if report.stopped_by is not None:
        stopped = interrupt.Interrupted("", report.stopped_by)
        _, errors = _consoles()
        errors.print(
            f"Interrupted ({stopped.signal_name}): no deletion ran; "
            "run the same command again to finish.",
            highlight=False,
        )
        raise typer.Exit(stopped.exit_code)
    raise typer.Exit(EXIT_DRIFT if report.failed or report.count("not run") else EXIT_OK)


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
