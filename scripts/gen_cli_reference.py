"""Write docs/reference/cli.md from the `oppdemo` Typer app itself (Typer's `utils docs`).

uv run python scripts/gen_cli_reference.py            # rewrite the page
uv run python scripts/gen_cli_reference.py --check    # exit 1 when the page is stale
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = PROJECT_ROOT / "docs" / "reference" / "cli.md"

HEADER = """\
<!-- Generated from the CLI by `uv run python scripts/gen_cli_reference.py`: do not edit. -->

Every command and option, as `oppdemo --help` gives them. The pages of this site say when
to use each one; [Commands](../commands.md) shows them at work.

"""


def _groups(command: Any) -> list[Any]:
    """The command and every group under it."""
    # Typer 0.28 bundles its own Click: a group is whatever holds commands.
    if not hasattr(command, "commands"):
        return []
    found = [command]
    for sub in command.commands.values():
        found += _groups(sub)
    return found


def render() -> str:
    """The reference page, from the same Typer app the console script runs."""
    sys.path.insert(0, str(PROJECT_ROOT))
    import typer.main
    from typer.cli import get_docs_for_click

    from oppdemo.cli import app

    command = typer.main.get_command(app)
    context = typer.Context(command, info_name="oppdemo")
    body = get_docs_for_click(obj=command, ctx=context, name="oppdemo", title="Command reference")
    # Typer lists a group's commands with their help cut at 45 characters, as `--help` does
    # in a narrow terminal; a page has the room for the whole first sentence.
    for group in _groups(command):
        for name in group.list_commands(context):
            sub = group.get_command(context, name)
            if sub is not None:
                short, full = sub.get_short_help_str(), sub.get_short_help_str(limit=1000)
                body = body.replace(f"* `{sub.name}`: {short}\n", f"* `{sub.name}`: {full}\n")
    title, _, rest = body.partition("\n\n")
    return f"{title}\n\n{HEADER}{rest.strip()}\n"


def main(arguments: list[str]) -> int:
    text = render()
    if arguments == ["--check"]:
        if REFERENCE.exists() and REFERENCE.read_text(encoding="utf-8") == text:
            return 0
        print(
            f"{REFERENCE.relative_to(PROJECT_ROOT)} is stale: run "
            "`uv run python scripts/gen_cli_reference.py` and commit it.",
            file=sys.stderr,
        )
        return 1
    if arguments:
        print("usage: gen_cli_reference.py [--check]", file=sys.stderr)
        return 2
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(text, encoding="utf-8", newline="\n")
    print(f"Wrote {REFERENCE.relative_to(PROJECT_ROOT)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
