"""`storage rm`: delete keys one by one, each first copied into the backups folder.

A key whose copy cannot be kept, or whose deletion fails, is reported and left; the others
go on. Ctrl-C and SIGTERM stop between keys: the key in hand is finished (copied, then
deleted), none after it starts, and the report says how far it got.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from oppdemo.errors import OppdemoError
from oppdemo.interrupt import deferred_signals
from oppdemo.pause import pause_point
from oppdemo.storage.access import BackupFailed, ObjectBackup

# Failures of the storage as a whole, not of one key: the run stops at the first.
_WHOLE_STORAGE = ("StorageConfigError", "StorageUnavailableError")


@dataclass
class Removal:
    """What `remove_keys` did: the counts, and the signal that stopped it if one did."""

    deleted: int = 0
    missing: int = 0
    failed: int = 0
    # Keys refused as unsafe (outside the storage): bad input, not a failure of the storage.
    refused: int = 0
    stopped_by: int | None = None
    # A failure of the storage itself (a missing bucket, a server that does not answer): no
    # key can be deleted, so the run stops at the first, naming it (exit 2, as every command).
    fatal: str | None = None


def remove_keys(
    storage: Any,
    keys: Iterable[str],
    backup: ObjectBackup,
    errors: tuple[type[BaseException], ...],
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> Removal:
    """Copy out, then delete, each key; `errors` (the storage's own) fail one key alone.
    `say` gets one line per key as it is done, `warn` one per key that failed."""
    removal = Removal()
    failures: tuple[type[BaseException], ...] = (BackupFailed, OppdemoError, *errors)
    with deferred_signals() as guard:
        for key in keys:
            pause_point("remove")
            if guard.received is not None:
                removal.stopped_by = guard.received
                break
            try:
                backup.keep(storage, key)
                deleted = storage.delete_file(key)
            except FileNotFoundError:
                deleted = False
            except failures as error:
                if type(error).__name__ in _WHOLE_STORAGE:
                    removal.fatal = str(error)
                    break
                warn(f"failed {key}: {error}")
                unsafe = type(error).__name__.startswith("UnsafeKey")
                if unsafe or (
                    isinstance(error, OppdemoError) and not isinstance(error, BackupFailed)
                ):
                    removal.refused += 1
                else:
                    removal.failed += 1
                continue
            if deleted:
                say(f"deleted {key}")
                removal.deleted += 1
            else:
                say(f"not found {key}")
                removal.missing += 1
    return removal
