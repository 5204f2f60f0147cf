"""`download-sample-photos`: seed sample photos through the project's storage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oppdemo.cli.common import (
    DryRun,
    app,
    consoles,
    fail,
    run_core,
)
from oppdemo.errors import EXIT_DRIFT, EXIT_OK

if TYPE_CHECKING:
    pass


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

    from oppdemo.cli import render
    from oppdemo.project_code import import_project_module

    project = Path(ctx.obj).resolve()
    catalog = catalog.resolve() if catalog else None
    source = source.resolve() if source else None
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(project)
    seeding = run_core(
        lambda: import_project_module(
            project,
            "demo_scripts.download_sample_photos",
            "download-sample-photos runs oppdemo's demo script from there; seed this project's "
            "photos with its own script instead.",
        )
    )
    options = seeding.SeedOptions(
        prefix=prefix,
        force=force,
        concurrency=concurrency,
        timeout=timeout,
        max_bytes=int(max_size_mb * 1024 * 1024),
        dry_run=dry_run,
    )
    console, _ = consoles()
    try:
        storage, photos = seeding.prepare(catalog, source)
        with render.PhotoProgress(console, len(photos)) as progress:
            report = seeding.seed_photos(photos, storage, options, progress.show)
    except seeding.CONFIGURATION_ERRORS as error:
        fail(str(error))
    render.photo_report(console, report, progress.streamed)
    raise typer.Exit(EXIT_DRIFT if report.failed else EXIT_OK)
