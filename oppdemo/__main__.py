"""`oppdemo` (the console script) and `python -m oppdemo`.

Ctrl-C at any moment, start-up included, is one sentence and exit 130: changing commands defer
it to a file boundary and put things back (they install their own handler); anything else has
changed nothing when it stops.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from oppdemo.pause import pause_point

pause_point("import")  # a test's Ctrl-C while the program loads: oppdemo.py catches it


class _CtrlC(BaseException):
    """Ctrl-C, as an exception Click does not turn into "Aborted!" and exit 1."""


def _on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    raise _CtrlC


def main() -> None:
    """Run the command line; never a KeyboardInterrupt traceback."""
    try:
        signal.signal(signal.SIGINT, _on_ctrl_c)
        from oppdemo.cli.streams import guard_streams

        guard_streams()
        pause_point("start")
        from oppdemo.cli.fast import fast_diff

        code = fast_diff(sys.argv[1:])
        if code is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.exit(code)
        from oppdemo.cli import app

        try:
            app()
        finally:
            # The command is over: a Ctrl-C while the interpreter shuts down would kill it
            # with no word (Python restores the default handler then); it changes nothing.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (KeyboardInterrupt, _CtrlC):
        from oppdemo.interrupt import interrupted_message

        sys.stderr.write(interrupted_message() + "\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
