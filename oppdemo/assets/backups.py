"""Backups: before a command changes anything, what it will replace or remove is kept here.

Each command gets `backups/<id>/` holding `record.json` (the command and its operations) and
`files/<n>`, the original of operation n. The folder is assembled under a hidden name and
renamed into place only when complete, so a backup that is visible is always whole. An empty
file `complete` is added once the command has finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oppdemo.assets import fileops
from oppdemo.assets.plan import Operation
from oppdemo.errors import BackupError, DamagedBackupError, PlanError

RECORD_NAME = "record.json"
COMPLETE_NAME = "complete"
_PARTIAL_PREFIX = ".partial-"
# oppdemo's backup folders are named by their time; anything else in the folder (FastOpp's own
# `backups/destroy/`, say) belongs to someone else and is left alone.
_ID_PATTERN = re.compile(r"(\d{8}-\d{6}-\d{6})(-\d+)?")
# Where `storage rm`, `put` and `migrate --delete` keep copies of the objects they replace or
# delete (`storage/<time>[-n]/`, their headers in `storage-headers/` beside): listed and pruned
# with the command backups, put back by `oppdemo storage restore-backup`, never by `undo`.
STORAGE_FOLDER = "storage"
STORAGE_HEADERS_FOLDER = "storage-headers"
STORAGE_COMMAND = "storage"


@dataclass(frozen=True)
class Record:
    """What one command did, enough to reverse it."""

    id: str
    command: str
    created: str
    operations: tuple[Operation, ...]
    complete: bool = False
    undoes: str | None = None

    @property
    def files(self) -> int:
        return sum(1 for operation in self.operations if operation.changes_a_file)


@dataclass(frozen=True)
class BackupSummary:
    """One row of the `backups` listing."""

    id: str
    command: str
    created: str
    files: int
    size: int
    complete: bool
    undoes: str | None
    problem: str | None = None


@dataclass(frozen=True)
class PrunePlan:
    """Which backups `backups --prune` removes, and which it keeps although they match."""

    remove: tuple[BackupSummary, ...]
    protected: tuple[tuple[BackupSummary, str], ...] = field(default=())

    @property
    def size(self) -> int:
        return sum(item.size for item in self.remove)


class BackupStore:
    """The backups folder of one project."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.folder = folder

    def kept_copy(self, record_id: str, index: int) -> str:
        """Where operation `index` of a backup kept its original, relative to the project."""
        return (self.folder / record_id / "files" / str(index)).relative_to(self.root).as_posix()

    def begin(self, command: str, operations: tuple[Operation, ...], undoes: str | None) -> Record:
        """Keep a copy of everything the operations replace or remove, then save the record."""
        self.clear_partial()
        record = Record(_new_id(self.folder), command, _now(), operations, undoes=undoes)
        partial = self.folder / f"{_PARTIAL_PREFIX}{record.id}"
        try:
            partial.mkdir(parents=True)
            for index, operation in enumerate(operations):
                if operation.action == "remove" or (
                    operation.action == "write" and operation.existed
                ):
                    fileops.keep(
                        self.root / operation.path,
                        partial / "files" / str(index),
                        operation.kept_kind,
                    )
            _write_record(partial, record)
            os.rename(partial, self.folder / record.id)
        except OSError as error:
            # Nothing has changed yet: drop the half-made backup and say why.
            shutil.rmtree(partial, ignore_errors=True)
            where = self.folder.relative_to(self.root).as_posix()
            raise PlanError(
                f"{command} could not write its backup in {where}/ ({error.strerror}); "
                "nothing was changed. Free some space (or fix the permissions) and run again."
            ) from None
        return record

    def finish(self, record: Record) -> Record:
        (self.folder / record.id / COMPLETE_NAME).touch()
        return replace(record, complete=True)

    def finished_at(self, record_id: str) -> float:
        """When a backup's command finished (the time of its `complete` file), as a timestamp."""
        folder = self.folder / record_id
        try:
            return (folder / COMPLETE_NAME).stat().st_mtime
        except OSError:
            return (folder / RECORD_NAME).stat().st_mtime

    def discard(self, record: Record) -> None:
        """Forget a backup whose command was rolled back: what it kept is in place again."""
        shutil.rmtree(self.folder / record.id)

    def clear_partial(self) -> None:
        """Remove backups that a crash interrupted before their command changed anything."""
        if self.folder.is_dir():
            for leftover in self.folder.glob(f"{_PARTIAL_PREFIX}*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def load(self, record_id: str) -> Record:
        folder = self.folder / record_id
        missing = not folder.is_dir()
        if missing and _ID_PATTERN.fullmatch(record_id) and self._storage_folders(record_id):
            where = (self.folder / STORAGE_FOLDER / record_id).relative_to(self.root).as_posix()
            raise BackupError(
                f"Backup {record_id} holds copies of stored objects, which `undo` does not put "
                f"back: run `oppdemo storage restore-backup {where}`."
            )
        if not _ID_PATTERN.fullmatch(record_id) or not folder.is_dir():
            raise BackupError(
                f"There is no backup {record_id!r}: run `oppdemo backups` to list them."
            )
        try:
            data = json.loads((folder / RECORD_NAME).read_bytes().decode("utf-8"))
            operations = tuple(Operation(**item) for item in data.pop("operations"))
            data.pop("complete", None)  # written into the record by early versions
            complete = (folder / COMPLETE_NAME).exists()
            return Record(operations=operations, complete=complete, **data)
        except FileNotFoundError:
            problem = f"its {RECORD_NAME} is missing"
        except OSError as error:
            problem = f"its {RECORD_NAME} cannot be read ({error.strerror})"
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            problem = f"its {RECORD_NAME} is not a valid record ({error})"
        raise DamagedBackupError(record_id, problem)

    def ids(self) -> list[str]:
        """oppdemo's backups, oldest first; other folders in the backups folder are not ours."""
        if not self.folder.is_dir():
            return []
        return sorted(
            entry.name
            for entry in os.scandir(self.folder)
            if entry.is_dir(follow_symlinks=False) and _ID_PATTERN.fullmatch(entry.name)
        )

    def latest(self) -> Record:
        ids = self.ids()
        if not ids:
            raise BackupError("There are no backups yet: nothing to undo.")
        return self.load(ids[-1])

    def summaries(self) -> list[BackupSummary]:
        """Every backup, oldest first, the storage commands' copies included; a damaged one
        is listed with what is wrong with it."""
        summaries = self._storage_summaries()
        for record_id in self.ids():
            size = self._size(record_id)
            try:
                record = self.load(record_id)
            except DamagedBackupError as error:
                created = _time_of(record_id).isoformat(timespec="seconds")
                summaries.append(
                    BackupSummary(record_id, "?", created, 0, size, False, None, error.problem)
                )
                continue
            summaries.append(
                BackupSummary(
                    record.id,
                    record.command,
                    record.created,
                    record.files,
                    size,
                    record.complete,
                    record.undoes,
                )
            )
        return sorted(summaries, key=lambda item: item.id)

    def _storage_summaries(self) -> list[BackupSummary]:
        """One row per storage command's copies: `<time>` with its `<time>-n` overflow."""
        stamps = {
            match.group(1)
            for name in _folder_names(self.folder / STORAGE_FOLDER)
            if (match := _ID_PATTERN.fullmatch(name))
        }
        rows = []
        for stamp in sorted(stamps):
            files = size = 0
            copies = [f for f in self._storage_folders(stamp) if f.parent.name == STORAGE_FOLDER]
            for folder in copies:  # the headers beside them are not counted
                for directory, _, names in os.walk(folder):
                    for name in names:
                        if name.startswith(".keep-"):  # a copy being written, or a killed one's
                            continue
                        files += 1
                        with contextlib.suppress(OSError):  # removed meanwhile
                            size += os.lstat(os.path.join(directory, name)).st_size
            created = _time_of(stamp).isoformat(timespec="seconds")
            rows.append(BackupSummary(stamp, STORAGE_COMMAND, created, files, size, True, None))
        return rows

    def _storage_folders(self, stamp: str) -> list[Path]:
        """The folders of one storage command's copies, and of their headers."""
        found = []
        for kind in (STORAGE_FOLDER, STORAGE_HEADERS_FOLDER):
            for name in _folder_names(self.folder / kind):
                match = _ID_PATTERN.fullmatch(name)
                if match and match.group(1) == stamp:
                    found.append(self.folder / kind / name)
        return found

    def _size(self, record_id: str) -> int:
        try:
            return sum(
                entry.stat(follow_symlinks=False).st_size
                for entry in _files_under(self.folder / record_id / "files")
            )
        except OSError:
            return 0  # a damaged backup: its size is unknown

    def prune_plan(
        self, keep: int | None, older_than: timedelta | None, now: datetime | None = None
    ) -> PrunePlan:
        """Backups beyond the `keep` newest and older than `older_than` (both when both given).

        Never chosen: a damaged backup (what it holds is unknown), one whose command was
        interrupted, and the backup that an interrupted undo is reversing: `undo` needs them.
        """
        now = now or datetime.now(UTC)
        summaries = self.summaries()
        needed = {item.undoes for item in summaries if item.command == "undo" and not item.complete}
        newest_first = list(reversed(summaries))
        candidates = newest_first[keep:] if keep is not None else newest_first
        remove: list[BackupSummary] = []
        protected: list[tuple[BackupSummary, str]] = []
        for item in candidates:
            if older_than is not None and _time_of(item.id) > now - older_than:
                continue
            if item.problem is not None:
                protected.append((item, "damaged: look inside, and remove it by hand if unneeded"))
            elif not item.complete:
                protected.append((item, "its command was interrupted: `undo` may still need it"))
            elif item.id in needed:
                protected.append((item, "an interrupted undo needs it: run `oppdemo undo`"))
            else:
                remove.append(item)
        return PrunePlan(tuple(reversed(remove)), tuple(reversed(protected)))

    def remove(self, item: BackupSummary) -> None:
        """Delete one backup; it is hidden first, so a crash never leaves half of one listed."""
        folders = (
            self._storage_folders(item.id)
            if item.command == STORAGE_COMMAND
            else [self.folder / item.id]
        )
        for folder in folders:
            hidden = folder.with_name(f"{_PARTIAL_PREFIX}{folder.name}")
            os.rename(folder, hidden)
            shutil.rmtree(hidden, ignore_errors=True)


def _folder_names(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as listing:
            return [entry.name for entry in listing if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _files_under(folder: Path) -> Iterator[os.DirEntry[str]]:
    if folder.is_dir():
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                yield entry


def _write_record(folder: Path, record: Record) -> None:
    data = {
        "id": record.id,
        "command": record.command,
        "created": record.created,
        "undoes": record.undoes,
        "operations": [vars(operation) for operation in record.operations],
    }
    # The folder is still hidden under its partial name: a plain write is safe here. Compact
    # JSON keeps to the C encoder (indenting 10,000 operations took 0.2 s).
    (folder / RECORD_NAME).write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def _new_id(folder: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    candidate, suffix = stamp, 1
    while (folder / candidate).exists():
        candidate, suffix = f"{stamp}-{suffix}", suffix + 1
    return candidate


def _time_of(record_id: str) -> datetime:
    """When a backup was made, read from its id (which is its creation time in UTC)."""
    match = _ID_PATTERN.fullmatch(record_id)
    assert match is not None
    return datetime.strptime(match.group(1), "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
