"""A test-only pause: the suite's signal and kill tests land their signal at a known point.

With `OPPDEMO_TEST_PAUSE=POINT@N:PATH`, the N-th time this process reaches `pause_point(POINT)`
it writes its pid to PATH and waits until PATH is removed. A test waits for the file, sends
its signal (or kills), then removes the file: no race against the clock, however quick or
loaded the machine (tests/projects.py `start_paused`). Unset (always, outside the suite), the
setting is read once at import and each point costs one comparison.
"""

from __future__ import annotations

import itertools
import os

# POINT@N:PATH; N is a number, so the first ":" after the "@" ends it (PATH may hold ":").
_POINT, _, _REST = os.environ.get("OPPDEMO_TEST_PAUSE", "").partition("@")
_COUNT, _, _FILE = _REST.partition(":")
# Only the process the test started: a forked helper inherits the setting but must not pause.
_OWNER = os.getpid()
# Passes are counted by a C iterator, atomic under the GIL: a point may be passed in threads.
_passes = itertools.count(1)


def pause_point(point: str) -> None:
    """Count one pass of `point`; wait there when the test asked for this pass."""
    if point != _POINT or not _FILE or os.getpid() != _OWNER:
        return
    if next(_passes) != int(_COUNT or 1):
        return
    import time

    partial = f"{_FILE}.partial"
    with open(partial, "w") as stream:
        stream.write(str(os.getpid()))
    os.replace(partial, _FILE)  # the test sees the file whole, or not at all
    deadline = time.monotonic() + 120  # a test that never lets go does not hang forever
    while os.path.exists(_FILE) and time.monotonic() < deadline:
        time.sleep(0.005)
