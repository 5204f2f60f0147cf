"""`oppdemo` (the console script) and `python -m oppdemo`.

Ctrl-C at any moment, start-up included, is one sentence and exit 130: changing commands defer
it to a file boundary and put things back; anything else has changed nothing.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line; never a KeyboardInterrupt traceback."""
    try:
        from click.exceptions import Abort, ClickException

        from oppdemo.cli import app

        try:
            code = app(standalone_mode=False)
        except Abort as abort:
            if isinstance(abort.__cause__, KeyboardInterrupt):
                raise abort.__cause__ from None
            sys.stderr.write("Aborted: nothing was changed.\n")
            code = 1
        except ClickException as error:
            error.show()
            code = error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted before anything was changed.\n")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
