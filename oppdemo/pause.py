"""A test-only pause: the suite's signal and kill tests land their signal at a known point.

With `OPPDEMO_TEST_PAUSE=NAME:N` and `OPPDEMO_TEST_PAUSE_FILE=PATH` set, the N-th time this
process reaches `reached(NAME)` it writes its pid to PATH and waits until PATH is removed. A
test waits for the file, sends its signal (or kills), then removes the file: no race against
the clock, however quick or loaded the machine. Unset (always, outside the suite), a point
costs one comparison.
"""

from __future__ import annotations

import os
import time

_WANTED, _, _COUNT = os.environ.get("OPPDEMO_TEST_PAUSE", "").partition(":")
_FILE = os.environ.get("OPPDEMO_TEST_PAUSE_FILE", "")
# Only the process the test started: a forked helper inherits the setting but must not pause.
_OWNER = os.getpid()
_reached = 0


def reached(name: str) -> None:
    """Count one pass of the point `name`; pause there when the test asked for this pass."""
    global _reached
    if name != _WANTED or not _FILE or os.getpid() != _OWNER:
        return
    # Points are passed in one thread each (the engine's loop, the migration's dispatcher).
    _reached += 1
    if _reached != int(_COUNT or 1):
        return
    partial = f"{_FILE}.partial"
    with open(partial, "w") as stream:
        stream.write(str(os.getpid()))
    os.replace(partial, _FILE)  # the test sees the file whole, or not at all
    while os.path.exists(_FILE):
        time.sleep(0.005)
