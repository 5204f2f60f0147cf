"""MD5s of a local upload folder's files, remembered between `migrate` runs.

A rerun must compare every local file with its object by content, and hashing the whole
folder each time is most of a rerun's work. A file's MD5 is kept with its identity (size,
modification and change times in nanoseconds, inode and device, as git's index does) in one
small JSON file per folder under the user's cache folder, and is trusted only while that
identity is unchanged. Any write to a file changes its change time, which no program can set.
A file changed less than two seconds before it was hashed is not remembered: a later write
could land within the same timestamp tick (coarse on some file systems) and go unnoticed.

The cache is an optimisation only: unreadable, damaged or unwritable, it is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

_VERSION = 1
# Files changed this recently before hashing are hashed again next time (see above).
_SETTLED_NS = 2_000_000_000

Identity = tuple[int, int, int, int, int]


def cache_folder() -> Path:
    """Where oppdemo keeps caches: `$OPPDEMO_CACHE_DIR`, else the platform's user cache."""
    chosen = os.environ.get("OPPDEMO_CACHE_DIR")
    if chosen:
        return Path(chosen)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "oppdemo" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "oppdemo"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "oppdemo"


def _identity(path: str) -> Identity | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


class LocalChecksums:
    """The MD5s of the files under `folder` (a real path), by key, kept in `cache_file`."""

    def __init__(self, folder: str, cache_file: Path, settled_ns: int = _SETTLED_NS) -> None:
        self._folder = folder
        self.cache_file = cache_file
        self._settled_ns = settled_ns
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Identity, str]] = {}
        self._seen: dict[str, tuple[Identity, str]] = {}
        self._known = _read_cache(cache_file, folder)

    @classmethod
    def for_folder(cls, folder: str) -> LocalChecksums:
        name = hashlib.sha256(folder.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return cls(folder, cache_folder() / "md5" / f"{name}.json")

    def md5(self, key: str, compute: Callable[[], str | None]) -> str | None:
        """The MD5 of the file under `key`: remembered if it is unchanged, else `compute()`."""
        path = os.path.join(self._folder, *key.split("/"))
        before = _identity(path)
        known = self._known.get(key)
        if before is not None and known is not None and known[0] == before:
            with self._lock:
                self._seen[key] = known
            return known[1]
        started = time.time_ns()
        digest = compute()
        settled = before is not None and started - max(before[1], before[2]) >= self._settled_ns
        if digest is not None and settled and _identity(path) == before:
            assert before is not None
            with self._lock:
                self._seen[key] = (before, digest)
        return digest

    def identity(self, key: str) -> Identity | None:
        """The identity of the file under `key` now (None if it is gone)."""
        return _identity(os.path.join(self._folder, *key.split("/")))

    def remember(self, key: str, before: Identity, digest: str, started_ns: int) -> None:
        """Keep `digest`, computed from the bytes read between `started_ns` and now, while
        the file kept the identity `before` all along (checked here: after the read)."""
        settled = started_ns - max(before[1], before[2]) >= self._settled_ns
        if settled and self.identity(key) == before:
            with self._lock:
                self._seen[key] = (before, digest)

    def save(self) -> None:
        """Keep what this run hashed or confirmed (entries of files not seen are dropped)."""
        if self._seen == self._known:
            return
        files = {key: [*identity, digest] for key, (identity, digest) in self._seen.items()}
        text = json.dumps({"version": _VERSION, "folder": self._folder, "files": files})
        with contextlib.suppress(OSError):
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.cache_file.parent, prefix=".md5-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write(text)
                os.replace(temporary, self.cache_file)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def _read_cache(cache_file: Path, folder: str) -> dict[str, tuple[Identity, str]]:
    """The entries of a cache file; {} for one unreadable or damaged in any way (an
    optimisation only: a wrong shape must never stop a migration)."""
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return {}
    files = data.get("files")
    if data.get("folder") != folder or not isinstance(files, dict):
        return {}
    known: dict[str, tuple[Identity, str]] = {}
    for key, entry in files.items():
        if (
            isinstance(entry, list)
            and len(entry) == 6
            and all(type(part) is int for part in entry[:5])
            and isinstance(entry[5], str)
        ):
            identity: Identity = (entry[0], entry[1], entry[2], entry[3], entry[4])
            known[key] = (identity, entry[5])
    return known


def for_storage(storage: object) -> LocalChecksums | None:
    """Remembered MD5s for a storage that keeps files in a local folder; None otherwise."""
    base_dir = getattr(storage, "base_dir", None)
    if getattr(storage, "backend_name", None) != "filesystem" or base_dir is None:
        return None
    return LocalChecksums.for_folder(os.path.realpath(base_dir))
