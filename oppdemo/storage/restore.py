"""`storage restore-backup`: put the copies `rm`, `put` and `migrate --delete` kept back.

A backup folder holds each object's bytes under its key, and (in the `storage-headers` tree
beside it) its type, Content-Disposition, Cache-Control and metadata: the object is stored
again with all of them, as it was. An object the restore replaces is first copied out like
any other, so a restore can itself be undone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oppdemo.errors import OppdemoError, PlanError
from oppdemo.interrupt import deferred_signals
from oppdemo.pause import pause_point
from oppdemo.storage.access import HEADERS_FOLDER, BackupFailed, ObjectBackup, headers_path
from oppdemo.storage.leftovers import temporary_pattern
from oppdemo.storage.portable import Attributes

_UNFINISHED = temporary_pattern(".keep-")


@dataclass
class Restoration:
    """What `restore_backup` did."""

    total: int = 0
    restored: int = 0
    failed: int = 0
    # Copies without their headers (kept by an earlier version): stored with a guessed type.
    without_headers: int = 0
    stopped_by: int | None = None


def backup_copies(folder: Path) -> Iterator[tuple[str, Path]]:
    """The (key, copy) pairs of a backup folder, in key order; half-written copies left by a
    killed command are not copies."""
    found = []
    for directory, _, names in os.walk(folder):
        for name in names:
            if _UNFINISHED.fullmatch(name):
                continue
            path = Path(directory, name)
            found.append((path.relative_to(folder).as_posix(), path))
    yield from sorted(found)


def check_folder(folder: Path) -> None:
    """Refuse a folder that is not a backup of stored objects."""
    if not folder.is_dir():
        raise PlanError(
            f"{folder} is not a folder: give a backup folder that rm, put or migrate named, "
            "such as backups/storage/20250101-120000-000000."
        )
    if folder.parent.name == HEADERS_FOLDER:
        raise PlanError(
            f"{folder} holds the headers of a backup, not its copies: give "
            f"{folder.parent.with_name('storage') / folder.name} (its headers are found)."
        )


def restore_backup(
    storage: Any,
    folder: Path,
    backup: ObjectBackup,
    errors: tuple[type[BaseException], ...],
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> Restoration:
    """Store every copy in `folder` under its key, with its headers; an object in the way is
    first kept by `backup`. One that fails is reported and the others go on; Ctrl-C and
    SIGTERM stop between keys."""
    check_folder(folder)
    copies = list(backup_copies(folder))
    result = Restoration(total=len(copies))
    failures: tuple[type[BaseException], ...] = (BackupFailed, OppdemoError, *errors)
    with deferred_signals() as guard:
        for key, copy in copies:
            pause_point("restore")
            if guard.received is not None:
                result.stopped_by = guard.received
                break
            headers = _headers(headers_path(copy, folder, key))
            try:
                backup.keep(storage, key)
                with open(copy, "rb") as stream:
                    if headers is None:
                        storage.save_stream(stream, key)
                    else:
                        attributes = Attributes(
                            headers.get("cache_control"),
                            headers.get("content_disposition"),
                            dict(headers.get("metadata") or {}),
                        )
                        storage.save_stream(
                            stream, key, headers.get("content_type"), None, attributes
                        )
            except failures as error:
                warn(f"failed {key}: {error}")
                result.failed += 1
                continue
            if headers is None:
                result.without_headers += 1
            say(f"restored {key}" + ("" if headers else "  (no headers kept: type guessed)"))
            result.restored += 1
    return result


def _headers(path: Path) -> dict[str, Any] | None:
    """A copy's headers, or None when none were kept (or they cannot be read)."""
    try:
        headers = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return headers if isinstance(headers, dict) else None
