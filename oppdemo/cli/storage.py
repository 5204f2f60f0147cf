"""The `storage` commands: ls, put, get, rm, url, check, migrate."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from oppdemo.cli.common import (
    AsJson,
    DryRun,
    app,
    consoles,
    fail,
    print_json,
    run_core,
)
from oppdemo.errors import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, OppdemoError

T = TypeVar("T")

if TYPE_CHECKING:
    from types import ModuleType

    from oppdemo.storage import migration
    from services.storage import StorageInterface


storage_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Look into, check and migrate the upload storage (a local folder or an S3 bucket).",
)
app.add_typer(storage_app, name="storage")


@dataclass
class StorageContext:
    project: Path
    env_file: Path | None
    # The settings the storage was opened with, once it is.
    settings: dict[str, str] = field(default_factory=dict)


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

    from oppdemo.storage import access

    context: StorageContext = ctx.obj
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(context.project)
    package = run_core(lambda: access.storage_package(context.project))
    env = run_core(lambda: access.current_settings(package, context.env_file))
    context.settings = env
    storage = _storage_call(package, lambda: run_core(lambda: access.open_storage(package, env)))
    return package, storage


def _storage_call(package: ModuleType, action: Callable[[], T], missing_exit: int = 2) -> T:
    """Call the storage; its own errors become one sentence and an exit code, never a trace."""
    from oppdemo.storage import access

    try:
        return action()
    except typer.Exit:
        raise  # already said (a RuntimeError to Click, which a package's errors may include)
    except BrokenPipeError:
        # The reader went away (`storage get KEY - | head -c 100`, bytes written past the
        # text guard): its choice, not a failure; nothing more to say, to anyone.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_OK) from None
    except FileNotFoundError as error:
        fail(str(error), missing_exit)
    except OppdemoError as error:
        fail(str(error), error.exit_code)
    except access.storage_errors(package) as error:
        fail(str(error))


@storage_app.command("ls")
def storage_ls(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="Only keys that start with this.")] = "",
    long: Annotated[bool, typer.Option("--long", "-l", help="Add size and time.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List stored keys in order, a page at a time (key, and with --long size and time)."""
    from oppdemo.cli import render
    from oppdemo.storage.portable import is_placeholder

    package, storage = _open_storage(ctx)
    listing = _storage_call(package, lambda: storage.iter_files(prefix))
    uploads = (info for info in listing if not is_placeholder(info.key))
    _storage_call(package, lambda: render.storage_listing(uploads, long, as_json))


@storage_app.command("put")
def storage_put(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The local file to upload.")],
    key: Annotated[str, typer.Argument(help="Where to store it, such as photos/a.jpg.")],
) -> None:
    """Store a local file under KEY (streamed, any size) and print its URL; an object already
    stored there is first copied into the backups folder's storage/."""
    import signal
    from datetime import UTC, datetime

    from oppdemo import interrupt
    from oppdemo.cli.plain import shown
    from oppdemo.storage import leftovers
    from oppdemo.storage.access import ObjectBackup
    from oppdemo.storage.migration import MeteredStream, MigrationStopped

    source = file.resolve()  # before the command moves to the project folder
    started = datetime.now(UTC)
    package, storage = _open_storage(ctx)
    if not source.is_file():
        fail(f"{file} is not a file: give the path of a local file to upload.")
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        fail(f"Cannot read {file} ({error.strerror}): check the path and its permissions.")
    backup = run_core(lambda: ObjectBackup(ctx.obj.project, ctx.obj.settings))
    # What a killed `put` of this key left: temporary files, an open multipart upload.
    _storage_call(package, lambda: run_core(lambda: leftovers.clean(storage, [key], started)))
    sending = threading.Event()

    def upload() -> str | None:
        if _storage_call(package, lambda: storage.file_exists(key)):
            _storage_call(package, lambda: run_core(lambda: backup.keep(storage, key)))
        sending.set()
        metered = MeteredStream(stream, lambda: guard.received is not None, _paused)
        try:
            return _storage_call(package, lambda: storage.save_stream(metered, key))
        except MigrationStopped:
            return None

    # Ctrl-C or SIGTERM stops the upload whole: no object, no multipart upload left behind.
    # The upload runs in a thread of its own, so that a signal is acted on within 2 s even
    # while it waits on a server that never answers.
    with stream, interrupt.deferred_signals() as guard:
        finished, url = _until_stopped(upload, lambda: guard.received is not None)
    if backup.kept:
        where = backup.where(ctx.obj.project)
        print(
            f"The object it replaced was first copied into {where}/: "
            f"`{backup.restore_command(ctx.obj.project)}` puts it back."
        )
    if guard.received is not None or url is None:
        stopped = interrupt.Interrupted("", guard.received or signal.SIGINT)
        if finished or not sending.is_set():
            fail(f"Interrupted ({stopped.signal_name}): {key} was not stored.", stopped.exit_code)
        from rich.markup import escape

        _, errors = consoles()
        errors.print(
            f"[bold red]Error:[/] Interrupted ({stopped.signal_name}) while S3 had not "
            f"answered: {escape(shown(key))} may or may not have been stored (`storage ls` "
            "tells; a multipart upload left open is aborted by the next put of this key).",
            highlight=False,
        )
        # The upload left waiting must not hold the exit (Python would wait for its threads).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stopped.exit_code)
    print(shown(url))


def _until_stopped(action: Callable[[], T], stopped: Callable[[], bool]) -> tuple[bool, T | None]:
    """Run `action` in a daemon thread until it ends: (True, its result), its exception raised
    here; or, once `stopped()` and `STOP_GRACE` seconds more have passed, (False, None)."""
    from oppdemo.storage.migration import STOP_GRACE

    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as error:  # raised again in the calling thread
            failure.append(error)

    worker = threading.Thread(target=run, name="storage-put", daemon=True)
    worker.start()
    deadline: float | None = None
    while worker.is_alive():
        worker.join(0.1)
        if stopped() and deadline is None:
            deadline = time.monotonic() + STOP_GRACE
        if deadline is not None and time.monotonic() >= deadline and worker.is_alive():
            return False, None
    if failure:
        raise failure[0]
    return True, outcome[0]


def _paused(size: int) -> None:
    """Counts nothing; the test-only pause of a `put` mid-upload (see oppdemo/pause.py)."""
    from oppdemo.pause import pause_point

    pause_point("put-read")


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

    from oppdemo.storage.files import download

    if dest == "-":
        target = None
    else:  # resolved before the command moves to the project folder
        # Absolute, not resolved: a link at DEST must be refused, not followed.
        target = Path(dest).absolute() if dest else Path.cwd() / PurePosixPath(key).name
        if target.is_dir() and not target.is_symlink():
            target = target / PurePosixPath(key).name
    package, storage = _open_storage(ctx)
    written = _storage_call(package, lambda: run_core(lambda: download(storage, key, target)), 1)
    if written is not None:
        from oppdemo.cli.plain import shown

        print(f"{shown(key)} -> {shown(str(written))}")


@storage_app.command("rm")
def storage_rm(
    ctx: typer.Context,
    keys: Annotated[list[str], typer.Argument(help="The keys to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete stored keys (each is first copied into the backups folder's storage/)."""
    from oppdemo import interrupt
    from oppdemo.storage import access
    from oppdemo.storage.access import ObjectBackup
    from oppdemo.storage.removal import remove_keys

    package, storage = _open_storage(ctx)
    if len(keys) > 1 and not yes:
        if not sys.stdin.isatty():
            fail("Deleting several keys needs confirmation: pass --yes when not in a terminal.")
        typer.confirm(f"Delete {len(keys)} stored files? (a copy is kept)", abort=True)
    backup = run_core(lambda: ObjectBackup(ctx.obj.project, ctx.obj.settings))
    removal = remove_keys(storage, keys, backup, access.storage_errors(package), _say, _warn)
    if removal.deleted:
        where = backup.where(ctx.obj.project)
        print(
            f"A copy of each deleted file is in {where}/: "
            f"`{backup.restore_command(ctx.obj.project)}` puts them back."
        )
    if removal.fatal is not None:
        fail(removal.fatal, EXIT_ERROR)
    if removal.stopped_by is not None:
        stopped = interrupt.Interrupted("", removal.stopped_by)
        fail(
            f"Interrupted ({stopped.signal_name}) after {removal.deleted} of {len(keys)} "
            "key(s): the rest were not deleted.",
            stopped.exit_code,
        )
    if removal.refused:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_DRIFT if removal.missing or removal.failed else EXIT_OK)


def _say(line: str) -> None:
    """One line of progress on stdout, shown at once, control characters escaped."""
    from oppdemo.cli.plain import shown

    print(shown(line), flush=True)


def _warn(line: str) -> None:
    from oppdemo.cli.plain import shown

    print(shown(line), file=sys.stderr, flush=True)


@storage_app.command("prune-incoming")
def storage_prune_incoming(
    ctx: typer.Context,
    older_than: Annotated[
        float, typer.Option("--older-than", min=0, help="Only those older than HOURS.")
    ],
    dry_run: DryRun = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete direct uploads never confirmed (under incoming/), each first backed up."""
    from oppdemo import interrupt
    from oppdemo.cli.plain import shown
    from oppdemo.storage import access
    from oppdemo.storage.access import ObjectBackup
    from oppdemo.storage.prune import stale_uploads
    from oppdemo.storage.removal import remove_keys

    if not older_than <= 24 * 365 * 100:  # also refuses nan and inf
        fail(f"--older-than {older_than} is not a number of hours: give one such as 24.")
    package, storage = _open_storage(ctx)
    stale, markers = _storage_call(package, lambda: stale_uploads(storage, older_than))
    for key in markers:
        print(f"skip {shown(key)}  (a folder marker, kept)")
    if dry_run or not stale:
        for info in stale:
            print(f"would delete {shown(info.key)}  ({info.size} bytes)")
        print(f"{len(stale)} unconfirmed upload(s) older than {older_than:g} h; nothing changed.")
        return
    if not yes:
        if not sys.stdin.isatty():
            fail("prune-incoming deletes objects and needs confirmation: pass --yes.")
        typer.confirm(f"Delete {len(stale)} unconfirmed upload(s)? (a copy is kept)", abort=True)
    backup = run_core(lambda: ObjectBackup(ctx.obj.project, ctx.obj.settings))
    sizes = {info.key: info.size for info in stale}

    def say(line: str) -> None:
        key = line.partition(" ")[2]
        _say(f"{line}  ({sizes[key]} bytes)" if key in sizes else line)

    # As `rm`: one key at a time, each copied out first, each line printed when it is done.
    removal = remove_keys(storage, list(sizes), backup, access.storage_errors(package), say, _warn)
    where = backup.where(ctx.obj.project)
    if removal.deleted:
        print(
            f"Deleted {removal.deleted} unconfirmed upload(s); a copy of each is in {where}/: "
            f"`{backup.restore_command(ctx.obj.project)}` puts them back."
        )
    if removal.fatal is not None:
        fail(removal.fatal, EXIT_ERROR)
    if removal.stopped_by is not None:
        stopped = interrupt.Interrupted("", removal.stopped_by)
        fail(
            f"Interrupted ({stopped.signal_name}) after {removal.deleted} of {len(stale)} "
            "deletion(s): the rest were not deleted.",
            stopped.exit_code,
        )
    raise typer.Exit(EXIT_DRIFT if removal.failed or removal.refused else EXIT_OK)


@storage_app.command("restore-backup")
def storage_restore_backup(
    ctx: typer.Context,
    folders: Annotated[
        list[Path],
        typer.Argument(help="Backup folders that rm, put, prune-incoming or migrate named."),
    ],
) -> None:
    """Store every copy in backup FOLDERS again under its key, byte for byte, with its type,
    Content-Disposition, Cache-Control and metadata (an object in the way is first copied
    out, as by put)."""
    from oppdemo import interrupt
    from oppdemo.storage import access
    from oppdemo.storage.restore import check_folder, restore_backup

    # As typed here, or as the message that named them gave them (relative to the project).
    given = [folder if folder.is_dir() else ctx.obj.project / folder for folder in folders]
    resolved = [folder.resolve() for folder in given]
    for folder in resolved:
        run_core(lambda folder=folder: check_folder(folder))  # type: ignore[misc]
    package, storage = _open_storage(ctx)
    backup = run_core(lambda: access.ObjectBackup(ctx.obj.project, ctx.obj.settings))
    restored = failed = total = 0
    for folder in resolved:
        result = _storage_call(
            package,
            lambda folder=folder: restore_backup(  # type: ignore[misc]
                storage, folder, backup, access.storage_errors(package), _say, _warn
            ),
        )
        restored, failed, total = (
            restored + result.restored, failed + result.failed, total + result.total
        )  # fmt: skip
        if result.stopped_by is not None:
            stopped = interrupt.Interrupted("", result.stopped_by)
            fail(
                f"Interrupted ({stopped.signal_name}) after {restored} restored: the rest of "
                f"{folder} was not restored; run the same command again to finish.",
                stopped.exit_code,
            )
    print(f"Restored {restored} of {total} object(s), {failed} failed.")
    if backup.kept:
        where = backup.where(ctx.obj.project)
        print(
            f"The {backup.kept} object(s) they replaced were first copied into {where}/: "
            f"`{backup.restore_command(ctx.obj.project)}` puts them back."
        )
    raise typer.Exit(EXIT_DRIFT if failed else EXIT_OK)


@storage_app.command("clean-leftovers")
def storage_clean_leftovers(
    ctx: typer.Context,
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than", min=0, help="Multipart uploads begun more than HOURS ago (1)."
        ),
    ] = 1.0,
    dry_run: DryRun = False,
) -> None:
    """Remove what killed commands left: temporary files whose writer is gone, and open
    multipart uploads begun more than HOURS ago (an upload in progress is younger)."""
    from datetime import UTC, datetime, timedelta

    from oppdemo.cli.plain import shown
    from oppdemo.storage import leftovers

    if not older_than <= 24 * 365 * 100:  # also refuses nan and inf
        fail(f"--older-than {older_than} is not a number of hours: give one such as 1.")
    package, storage = _open_storage(ctx)
    found = _storage_call(package, lambda: leftovers.find(storage))
    before = datetime.now(UTC) - timedelta(hours=older_than)
    uploads = [(key, when) for key, when in found.uploads if when is not None and when < before]
    verb = "would remove" if dry_run else "remove"
    for path, size in found.files:
        print(f"{verb} {shown(path)}  (temporary file, {size} bytes)")
    for key, when in uploads:
        print(f"{verb} {shown(key)}  (multipart upload begun {when.isoformat(timespec='seconds')})")
    if dry_run:
        print(f"{len(found.files) + len(uploads)} leftover(s); nothing changed.")
        return
    removed = _storage_call(package, lambda: leftovers.clean(storage, None, before))
    print(f"Removed {removed} leftover(s).")


@storage_app.command("url")
def storage_url(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="The stored key.")]
) -> None:
    """Print the URL that serves KEY (CDN, public or presigned on S3)."""
    from oppdemo.cli.plain import shown

    package, storage = _open_storage(ctx)
    print(shown(_storage_call(package, lambda: storage.get_file_url(key))))


@storage_app.command("check")
def storage_check(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option(help="Filesystem: the running app's address, such as http://127.0.0.1:8000."),
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option(
            help="Also check direct uploads from a page on this origin (CORS, incoming/)."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Try every step of using the storage, timed; exit 1 when one fails, naming the fix."""
    import os

    from oppdemo.cli import render
    from oppdemo.storage import access
    from oppdemo.storage.check import check_storage, normal_origin

    if origin is not None:
        given = origin
        origin = run_core(lambda: normal_origin(given))
    context: StorageContext = ctx.obj
    os.chdir(context.project)
    package = run_core(lambda: access.storage_package(context.project))
    env = run_core(lambda: access.current_settings(package, context.env_file))
    console, _ = consoles()
    show = None if as_json else (lambda step: render.check_step(console, step))
    report = check_storage(package, env, base_url, show, origin)
    if as_json:
        print_json(report.to_dict())
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
    from datetime import UTC, datetime

    from oppdemo import interrupt
    from oppdemo.cli import render
    from oppdemo.storage import access, checksums, leftovers, location, migration

    started = datetime.now(UTC)
    context: StorageContext = ctx.obj
    source_file, target_file = (source.resolve() if source else None), to.resolve()
    os.chdir(context.project)
    package = run_core(lambda: access.storage_package(context.project))
    source_env = run_core(
        lambda: (
            access.file_settings(source_file, storage_required=True)
            if source_file
            else access.current_settings(package, context.env_file)
        )
    )
    target_env = run_core(lambda: access.file_settings(target_file, storage_required=True))
    # Refused before anything is read or written: the same data, or one inside the other.
    run_core(
        lambda: location.refuse_overlap(
            location.storage_location(source_env, context.project),
            location.storage_location(target_env, context.project),
        )
    )
    run_core(lambda: location.refuse_unusable_folders(source_env, target_env, context.project))
    backup = run_core(lambda: access.ObjectBackup(context.project, source_env, target_env))
    origin = _storage_call(
        package, lambda: run_core(lambda: access.open_storage(package, source_env))
    )
    console, _ = consoles()
    remembered = checksums.for_storage(origin)
    # The target (for S3: botocore and a client) is made while the source is read.
    plan, target = run_core(
        lambda: _storage_call(
            package,
            lambda: migration.plan_migration(
                origin,
                lambda: access.open_storage(package, target_env),
                delete,
                concurrency or 8,
                remembered,
            ),
        )
    )
    if remembered is not None:
        remembered.save()
    deletions = sum(1 for step in plan.steps if step.action == "delete")
    copies = len(plan.steps) - deletions
    if deletions and not (copies or plan.unchanged):  # folder markers are no content
        fail(
            f"The source ({plan.source}) is empty, so --delete would delete all {deletions} "
            "file(s) of the target: check the source's settings (run without --delete to "
            "copy nothing and delete nothing)."
        )
    if dry_run:
        if as_json:
            print_json(migration.MigrationReport(plan, [
                migration.StepResult(step, "planned") for step in plan.steps
            ]).to_dict())  # fmt: skip
        else:
            render.migration_plan(console, plan)
        return
    if deletions and not yes:
        if not sys.stdin.isatty():
            fail(
                f"--delete would delete {deletions} target file(s) and needs confirmation: "
                "pass --yes when not in a terminal (or --dry-run to see them)."
            )
        typer.confirm(f"Delete {deletions} file(s) from {target.describe()}?", abort=True)
    # What a killed run left in the target: temporary files, and the open multipart
    # uploads, begun before this run, of the keys it is about to write.
    copied_keys = [step.key for step in plan.steps if step.action == "copy"]
    _storage_call(package, lambda: leftovers.clean(target, copied_keys, started))
    # Ctrl-C and SIGTERM stop the run between steps (copies in flight give up whole), and
    # the summary below says what was done and what was not.
    with interrupt.deferred_signals() as guard, render.MigrationProgress(console, plan) as progress:
        report = _storage_call(
            package,
            lambda: migration.run_migration(
                plan, origin, target, concurrency, progress.show,
                (*access.storage_errors(package), access.BackupFailed), backup.keep,
                lambda: guard.received,
                remembered,
            ),
        )  # fmt: skip
    if remembered is not None:
        remembered.save()
    kept_in = backup.where(context.project) if backup.kept else None
    if as_json:
        print_json({**report.to_dict(), "backups": kept_in})
    else:
        render.migration_report(console, report, progress.streamed)
        if kept_in:
            console.print(
                f"The {backup.kept} target file(s) replaced or deleted were first copied "
                f"into {kept_in}/: `{backup.restore_command(context.project)}` puts them back.",
                highlight=False,
            )
    if report.stopped_by is not None:
        _interrupted_migration(report)
    raise typer.Exit(EXIT_DRIFT if report.failed or report.count("not run") else EXIT_OK)


def _interrupted_migration(report: migration.MigrationReport) -> NoReturn:
    """Say how far an interrupted migration went, and exit 130 (SIGINT) or 143 (SIGTERM)."""
    from oppdemo import interrupt
    from oppdemo.storage.migration import IN_FLIGHT

    stopped = interrupt.Interrupted("", report.stopped_by or 2)
    _, errors = consoles()
    finished = sum(1 for result in report.results if result.outcome != "not run")
    in_flight = sum(1 for result in report.results if result.error == IN_FLIGHT)
    deleted = report.count("deleted")
    if not finished and not in_flight:
        said = "before anything was changed"
    else:
        done = f"{deleted} deletion(s) ran, the rest did not" if deleted else "no deletion ran"
        said = f"after {finished} of {len(report.plan.steps)} step(s): {done}"
        if in_flight:
            said += f"; {in_flight} left in flight may or may not have been done"
    errors.print(
        f"Interrupted ({stopped.signal_name}) {said}; run the same command again to finish.",
        highlight=False,
    )
    if in_flight:
        # Steps left waiting on a server that never answers must not hold the exit (Python
        # would wait for the transfer manager's threads): all is said, nothing half-written
        # is left that a rerun does not remove.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stopped.exit_code)
    raise typer.Exit(stopped.exit_code)
