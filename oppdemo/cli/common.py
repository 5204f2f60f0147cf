"""What every command group shares: the Typer app, option types, consoles and error edges."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from oppdemo.errors import EXIT_ERROR, EXIT_INTERRUPTED, OppdemoError

if TYPE_CHECKING:
    from rich.console import Console

    from oppdemo.assets.commands import Outcome

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
Verbose = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="List every file changed, even on a terminal."),
]
BackupsFolder = Annotated[
    str | None,
    typer.Option(
        "--backups",
        metavar="FOLDER",
        help="The backups folder, relative to the project (after eject of a custom one).",
    ),
]


class Format(StrEnum):
    text = "text"
    github = "github"


def _print_version(value: bool) -> None:
    if value:
        from oppdemo import __version__

        print(f"oppdemo {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    ctx: typer.Context,
    project_dir: Annotated[
        Path,
        typer.Option(
            "--project-dir",
            "-C",
            help="Where to look for the project root (default: this folder, then those above).",
        ),
    ] = Path("."),
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    """Keep demo files (services/storage, demo_scripts, ...) in step with demo_assets/."""
    from oppdemo.assets.root import find_root

    ctx.obj = find_root(project_dir)


def consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False), Console(stderr=True, soft_wrap=True)


def run_core(action: Callable[[], T]) -> T:
    """Call the core; turn an expected failure into one sentence on stderr and exit code 2."""
    try:
        result = action()
    except OppdemoError as error:
        fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        # Changing commands defer Ctrl-C while they change files; this is planning or reading.
        fail("Interrupted before anything was changed.", EXIT_INTERRUPTED)
    record = getattr(result, "record", None) or getattr(
        getattr(result, "outcome", None), "record", None
    )
    if record is not None:
        from oppdemo.interrupt import note_committed

        note_committed(record.id)
    return result


def fail(message: str, exit_code: int = EXIT_ERROR) -> NoReturn:
    """Print one sentence on stderr, no traceback, and exit."""
    from rich.markup import escape

    _, errors = consoles()
    errors.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(exit_code)


def show_outcome(
    result: Outcome, dry_run: bool, as_json: bool = False, verbose: bool = False
) -> None:
    from oppdemo.cli import render

    if as_json:
        print_json(result.to_dict())
    else:
        render.outcome(consoles()[0], result, dry_run, verbose)


def print_json(data: object) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2) + "\n")
