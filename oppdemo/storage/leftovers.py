"""What a killed run leaves behind, found and removed by the next run.

Every temporary file oppdemo writes is named with the id of the process writing it
(`.keep-<pid>-XXXXXXXX` in the backups folder, `.<name>.oppdemo-<pid>-XXXXXXXX` beside a
downloaded file), so a later run tells a killed writer's file from one being written now
and from a user's own file, and removes only the first. A storage's own leftovers (a local
folder's temporary files, a bucket's open multipart uploads) are found by the storage itself,
where it offers `leftovers`/`remove_leftovers` or `open_uploads`/`abort_uploads`.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# A temporary file whose writer cannot be asked about (Windows) is a leftover once this old.
_UNOWNED_AGE = 24 * 3600
_RANDOM = r"[a-z0-9_]{8}"


def temporary_file(folder: Path, prefix: str) -> tuple[int, str]:
    """A new temporary file in `folder`, named `<prefix><pid>-XXXXXXXX`: (descriptor, path)."""
    return tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", dir=folder)


def temporary_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + r"(\d+)-" + _RANDOM)


def abandoned(pid: int, modified: float) -> bool:
    """Whether the process that wrote a temporary file is gone (on POSIX: it no longer runs;
    on Windows, where that is not asked safely, the file is a day old)."""
    if os.name == "nt":
        return time.time() - modified > _UNOWNED_AGE
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it runs, as another user
    return False


def stale_temporaries(folder: Path, prefix: str, recursive: bool = False) -> list[Path]:
    """The temporary files named `<prefix><pid>-XXXXXXXX` in `folder` whose writer is gone."""
    pattern = temporary_pattern(prefix)
    found = []
    walk = os.walk(folder) if recursive else [(str(folder), [], _names(folder))]
    for directory, _, names in walk:
        for name in names:
            match = pattern.fullmatch(name)
            if not match:
                continue
            path = Path(directory, name)
            try:
                modified = path.lstat().st_mtime
            except OSError:
                continue
            if abandoned(int(match.group(1)), modified):
                found.append(path)
    return sorted(found)


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def remove_stale_temporaries(folder: Path, prefix: str, recursive: bool = False) -> int:
    """Remove what `stale_temporaries` finds; return how many were removed."""
    removed = 0
    for path in stale_temporaries(folder, prefix, recursive):
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue  # gone meanwhile, or not ours to remove: `storage check` still shows it
    return removed


@dataclass
class Leftovers:
    """What killed runs left in a storage: temporary files (path, size) and open multipart
    uploads (key, when begun)."""

    files: list[tuple[str, int]]
    uploads: list[tuple[str, datetime | None]]

    def __bool__(self) -> bool:
        return bool(self.files or self.uploads)


def find(storage: Any) -> Leftovers:
    """The leftovers a storage can tell of (none for one that cannot)."""
    inner = getattr(storage, "storage", storage)  # a seven-method storage, wrapped
    files = inner.leftovers() if callable(getattr(inner, "leftovers", None)) else []
    uploads = []
    if callable(getattr(inner, "open_uploads", None)):
        uploads = [(key, when) for key, _, when in inner.open_uploads()]
    return Leftovers(files, uploads)


def clean(storage: Any, keys: Iterable[str] | None, started: datetime) -> int:
    """Remove a storage's leftovers before a run writes to it: its temporary files whose
    writer is gone, and the open multipart uploads of `keys` (every key when None) begun
    before `started`. Returns how many were removed."""
    inner = getattr(storage, "storage", storage)
    removed = 0
    if callable(getattr(inner, "remove_leftovers", None)):
        removed += inner.remove_leftovers()
    if callable(getattr(inner, "abort_uploads", None)):
        removed += inner.abort_uploads(None if keys is None else list(keys), started)
    return removed
