"""This project's own entry point: `uv run python oppdemo.py ...` is `oppdemo ...`."""

from oppdemo.__main__ import main

if __name__ == "__main__":
    main()
