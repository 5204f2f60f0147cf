"""Seed sample photos: the same as `uv run python oppdemo.py download-sample-photos`.

uv run python scripts/download_sample_photos.py [--source DIR] [--force] ...
"""

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from oppdemo.cli import app  # noqa: E402

if __name__ == "__main__":
    app(["-C", str(PROJECT_ROOT), "download-sample-photos", *sys.argv[1:]])
