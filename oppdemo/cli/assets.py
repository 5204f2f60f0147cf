"""The asset commands: diff, save, restore, destroy, undo, init, backups."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oppdemo.cli.common import (
    AsJson,
    BackupsFolder,
    DryRun,
    Format,
    Verbose,
    app,
    consoles,
    fail,
    print_json,
    run_core,
    show_outcome,
)
from oppdemo.errors import EXIT_DRIFT, EXIT_OK

if TYPE_CHECKING:
    from oppdemo.assets.backups import PrunePlan
    from oppdemo.assets.commands import Outcome

NoHooks = Annotated[
    bool, typer.Option("--no-hooks", help="Do not run the [tool.oppdemo.hooks] commands.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


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
    from oppdemo.assets import commands
    from oppdemo.cli import plain

    root: Path = ctx.obj
    report = run_core(lambda: commands.diff(root, staged=plain.in_pre_commit()))
    if as_json:
        print_json(report.to_dict())
    elif output_format is Format.github:
        plain.drift_github(report, root)
    elif sys.stdout.isatty():
        from oppdemo.cli import render

        render.drift(consoles()[0], report, root.resolve(), patch)
    else:
        plain.drift(report, root.resolve(), patch)
    raise typer.Exit(EXIT_OK if report.in_sync else EXIT_DRIFT)


@app.command()
def save(
    ctx: typer.Context,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    no_hooks: NoHooks = False,
    verbose: Verbose = False,
) -> None:
    """Copy the working files into the snapshot (a mirror: deletions are saved too)."""
    from oppdemo.assets import commands

    _check_hooks(ctx, "after-save", dry_run, no_hooks)
    outcome = run_core(lambda: commands.save(ctx.obj, dry_run=dry_run))
    show_outcome(outcome, dry_run, as_json, verbose)
    _hooks(ctx, "after-save", outcome, dry_run, no_hooks, as_json)


@app.command()
def restore(
    ctx: typer.Context,
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: AsJson = False,
    no_hooks: NoHooks = False,
    verbose: Verbose = False,
) -> None:
    """Copy the snapshot back over the working files (a mirror); asks before discarding
    working changes."""
    from oppdemo.assets import commands

    preview = run_core(lambda: commands.restore(ctx.obj, dry_run=True))
    if dry_run:
        show_outcome(preview, True, as_json)
        _hooks(ctx, "after-restore", preview, True, no_hooks, as_json)
        return
    allowed = None if yes else _confirm_discards("restore", preview.discards)
    _check_hooks(ctx, "after-restore", dry_run, no_hooks)
    outcome = run_core(lambda: commands.restore(ctx.obj, allowed=allowed))
    show_outcome(outcome, dry_run, as_json, verbose)
    _hooks(ctx, "after-restore", outcome, dry_run, no_hooks, as_json)


def _confirm_discards(command: str, discards: tuple[str, ...]) -> tuple[str, ...]:
    """Ask (on a terminal) before discarding the user's changes; without a terminal, refuse
    unless --yes. Returns the files agreed to, which the command then checks again."""
    if not discards:
        return ()
    if not sys.stdin.isatty():
        fail(
            f"{command} would overwrite or remove {len(discards)} changed working file(s) "
            f"(first: {discards[0]}): pass --yes when not running in a terminal (a backup is "
            "kept); nothing was changed."
        )
    from rich.markup import escape

    _, errors = consoles()
    errors.print(f"{command} would overwrite or remove these changed files:")
    for path in discards:
        errors.print(f"  {escape(path)}", highlight=False)
    typer.confirm(f"Discard these {len(discards)} change(s)? (a backup is kept)", abort=True)
    return discards


def _check_hooks(ctx: typer.Context, event: str, dry_run: bool, no_hooks: bool) -> None:
    """Before a change: every hook it will run can be started (else exit 2, nothing done)."""
    from oppdemo.assets.hooks import check_hooks
    from oppdemo.assets.manifest import load_manifest

    if no_hooks or dry_run:
        return
    manifest = run_core(lambda: load_manifest(ctx.obj))
    run_core(lambda: check_hooks(manifest.root, event, manifest.hooks_for(event)))


def _hooks(
    ctx: typer.Context, event: str, outcome: Outcome, dry_run: bool, no_hooks: bool, as_json: bool
) -> None:
    """Run the manifest's hooks for `event` once the command changed files (list them on a
    dry run); a failing hook exits 1, naming it."""
    from oppdemo.assets.hooks import run_hooks, shown
    from oppdemo.assets.manifest import load_manifest

    if no_hooks or not outcome.plan.operations:
        return
    manifest = run_core(lambda: load_manifest(ctx.obj))
    commands = manifest.hooks_for(event)
    if dry_run:
        for command in commands:
            print(f"would run {event} hook: {shown(command)}", file=sys.stderr if as_json else None)
        return
    run_core(lambda: run_hooks(manifest.root, event, commands, sys.stderr if as_json else None))


@app.command()
def destroy(
    ctx: typer.Context,
    dry_run: DryRun = False,
    force: Annotated[
        bool, typer.Option("--force", help="Destroy even with unsaved changes.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
    no_hooks: NoHooks = False,
    verbose: Verbose = False,
) -> None:
    """Remove the demo assets from the working tree, leaving a minimal project."""
    from oppdemo.assets import commands

    if dry_run or not yes:
        # The plan is needed to show it, or to say what the confirmation is for.
        preview = run_core(lambda: commands.destroy(ctx.obj, dry_run=True, force=force))
        if dry_run or not preview.plan.operations:
            show_outcome(preview, True, as_json)
            _hooks(ctx, "after-destroy", preview, True, no_hooks, as_json)
            return
        if not sys.stdin.isatty():
            fail(
                "destroy removes files and needs confirmation: "
                "pass --yes when not running in a terminal."
            )
        files = preview.plan.count("remove") + preview.plan.count("overwrite")
        typer.confirm(
            f"Remove {files} demo file(s) from the working tree? (a backup is kept)", abort=True
        )
    _check_hooks(ctx, "after-destroy", False, no_hooks)
    outcome = run_core(lambda: commands.destroy(ctx.obj, force=force))
    show_outcome(outcome, False, as_json, verbose)
    _hooks(ctx, "after-destroy", outcome, False, no_hooks, as_json)


@app.command()
def eject(
    ctx: typer.Context,
    dry_run: DryRun = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Leave oppdemo for good: remove the snapshot, base folders and [tool.oppdemo] (undoable)."""
    from oppdemo.assets import commands

    preview = run_core(lambda: commands.eject(ctx.obj, dry_run=True))
    if dry_run or not preview.plan.operations:
        show_outcome(preview, True, as_json)
        return
    if not yes:
        if not sys.stdin.isatty():
            fail("eject removes files and needs confirmation: pass --yes when not in a terminal.")
        typer.confirm(
            "Remove the snapshot, the base folders and [tool.oppdemo]? (a backup is kept; "
            "the demo files themselves stay)",
            abort=True,
        )
    show_outcome(run_core(lambda: commands.eject(ctx.obj)), False, as_json, verbose)


@app.command()
def undo(
    ctx: typer.Context,
    backup_id: Annotated[
        str | None, typer.Argument(help="The backup to reverse (default: the latest).")
    ] = None,
    backups_folder: BackupsFolder = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Put the files back as they were before a save, restore, destroy, eject or undo; asks
    before discarding files changed since."""
    from oppdemo.assets import commands

    preview = run_core(lambda: commands.undo(ctx.obj, backup_id, True, backups_folder))
    if dry_run:
        show_outcome(preview, True, as_json)
        return
    # The backup is named, so that a command run since the question cannot change the target.
    target = preview.plan.undoes if backup_id is None and not yes else backup_id
    allowed = None if yes else _confirm_discards("undo", preview.discards)
    show_outcome(
        run_core(lambda: commands.undo(ctx.obj, target, False, backups_folder, allowed)),
        False,
        as_json,
        verbose,
    )


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
    from oppdemo.assets import commands
    from oppdemo.cli import render

    result = run_core(lambda: commands.init(ctx.obj, force=force, dry_run=dry_run))
    if as_json:
        print_json(result.to_dict())
    else:
        render.discovery(consoles()[0], result, dry_run)


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
    backups_folder: BackupsFolder = None,
    dry_run: DryRun = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
) -> None:
    """List the backups (id, command, time, files, size), or remove old ones with --prune."""
    from dataclasses import asdict

    from oppdemo.assets import commands
    from oppdemo.cli import render

    if not prune:
        if keep is not None or older_than is not None:
            fail("--keep and --older-than choose what --prune removes: add --prune.")
        summaries = run_core(lambda: commands.backups(ctx.obj, backups_folder))
        if as_json:
            print_json([asdict(summary) for summary in summaries])
        else:
            render.backup_table(consoles()[0], summaries)
        return

    def run(preview: bool) -> PrunePlan:
        return run_core(
            lambda: commands.prune_backups(ctx.obj, keep, older_than, preview, backups_folder)
        )

    plan = run(True)
    if not dry_run and plan.remove:
        if not yes:
            if not sys.stdin.isatty():
                fail(
                    "pruning removes backups and needs confirmation: "
                    "pass --yes when not running in a terminal."
                )
            typer.confirm(f"Remove {len(plan.remove)} backup(s)?", abort=True)
        plan = run(False)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "removed": [item.id for item in plan.remove],
                "kept": [{"id": item.id, "reason": reason} for item, reason in plan.protected],
                "bytes": plan.size,
            }
        )
    else:
        render.prune_report(consoles()[0], plan, dry_run)
