"""`serve`: the project's upload demo, with uvicorn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oppdemo.cli.common import (
    app,
    fail,
    run_core,
)

if TYPE_CHECKING:
    pass


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Run the file-upload demo (demo_app/) with uvicorn: http://HOST:PORT."""
    import os

    from oppdemo.project_code import import_project_module

    project = Path(ctx.obj).resolve()
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(project)
    demo = run_core(
        lambda: import_project_module(
            project,
            "demo_app",
            "serve runs oppdemo's upload demo from there; start this project's own app with its "
            "own command (such as `uv run uvicorn main:app`).",
        )
    )
    # The demo's settings errors (STORAGE_TYPE, UPLOAD_MAX_MB); the minimal app left by
    # `destroy` has no storage package to raise them.
    storage = sys.modules.get("services.storage")
    settings_errors = (ValueError, *([storage.StorageError] if storage else []))
    try:
        web_app = demo.create_app()
    except settings_errors as error:
        fail(str(error))
    import uvicorn

    uvicorn.run(web_app, host=host, port=port, log_level="info")
