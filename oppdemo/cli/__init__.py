"""The `oppdemo` command line: wiring only, one module per command group.

`app` is built on first use, so that `oppdemo.cli.plain` and the fast `diff` path load
without Typer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    if name != "app":
        raise AttributeError(f"module 'oppdemo.cli' has no attribute {name!r}")
    # Importing the command modules registers their commands on the shared app.
    from oppdemo.cli import assets, photos, serve, storage  # noqa: F401
    from oppdemo.cli.common import app

    return app
