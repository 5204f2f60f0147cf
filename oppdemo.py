"""This project's own entry point: `uv run python oppdemo.py ...` is `oppdemo ...`."""

try:
    import sys

    from oppdemo.__main__ import main
except KeyboardInterrupt:  # Ctrl-C while the first module loads
    import sys

    sys.stderr.write("Interrupted before anything was changed.\n")
    sys.exit(130)

if __name__ == "__main__":
    main()
