"""The `oppdemo` command line: wiring only, one module per command group."""

from oppdemo.cli import assets, photos, serve, storage
from oppdemo.cli.common import app

__all__ = ["app", "assets", "photos", "serve", "storage"]
