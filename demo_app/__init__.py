"""The file-upload demo: a FastAPI page that uploads photos through the storage and shows them.

    uv run python oppdemo.py serve      # http://127.0.0.1:8000

Demo code that oppdemo manages: `destroy` puts the minimal app of `base_assets/demo_app/`
in its place, and `restore` brings this one back.
"""

from .app import create_app
from .settings import DemoSettings, read_settings

__all__ = ["DemoSettings", "create_app", "read_settings"]
