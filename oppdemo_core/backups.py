"""Backups: before a command changes anything, what it will replace or remove is kept here.

Each command gets `backups/<id>/` holding `record.json` (the command and its operations) and
`files/<n>`, the original of operation n. The folder is assembled under a hidden name and
renamed into place only when complete, so a backup that is visible is always whole. An empty
file `complete` is added once the command has finished.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from . import fileops
from .errors import BackupError
from .plan import Operation

RECORD_NAME = "record.json"
COMPLETE_NAME = "complete"
_PARTIAL_PREFIX = ".partial-"


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
        partial.mkdir(parents=True)
        for index, operation in enumerate(operations):
            if operation.action == "remove" or (operation.action == "write" and operation.existed):
                fileops.keep(
                    self.root / operation.path, partial / "files" / str(index), operation.kind
                )
        _write_record(partial, record)
        os.rename(partial, self.folder / record.id)
        return record

    def finish(self, record: Record) -> Record:
        (self.folder / record.id / COMPLETE_NAME).touch()
        return replace(record, complete=True)

    def discard(self, record: Record) -> None:
        """Forget a backup whose command was rolled back: what it kept is in place again."""
        shutil.rmtree(self.folder / record.id)

    def clear_partial(self) -> None:
        """Remove backups that a crash interrupted before their command changed anything."""
        if self.folder.is_dir():
            for leftover in self.folder.glob(f"{_PARTIAL_PREFIX}*"):
                shutil.rmtree(leftover, ignore_errors=True)

    def load(self, record_id: str) -> Record:
        path = self.folder / record_id / RECORD_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            operations = tuple(Operation(**item) for item in data.pop("operations"))
            data.pop("complete", None)  # written into the record by early versions
            complete = (path.parent / COMPLETE_NAME).exists()
            return Record(operations=operations, complete=complete, **data)
        except FileNotFoundError:
            raise BackupError(
                f"There is no backup {record_id!r}: run `oppdemo.py backups` to list them."
            ) from None
        except (ValueError, TypeError, KeyError) as error:
            raise BackupError(f"Backup {record_id!r} has an unreadable record ({error}).") from None

    def ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(
            entry.name
            for entry in os.scandir(self.folder)
            if entry.is_dir()
            and not entry.name.startswith(_PARTIAL_PREFIX)
            and (Path(entry.path) / RECORD_NAME).is_file()
        )

    def latest(self) -> Record:
        ids = self.ids()
        if not ids:
            raise BackupError("There are no backups yet: nothing to undo.")
        return self.load(ids[-1])

    def summaries(self) -> list[BackupSummary]:
        return [self._summary(self.load(record_id)) for record_id in self.ids()]

    def _summary(self, record: Record) -> BackupSummary:
        size = sum(
            entry.stat().st_size for entry in _files_under(self.folder / record.id / "files")
        )
        return BackupSummary(
            record.id,
            record.command,
            record.created,
            record.files,
            size,
            record.complete,
            record.undoes,
        )


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
    # The folder is still hidden under its partial name: a plain write is safe here.
    (folder / RECORD_NAME).write_text(json.dumps(data, indent=1), encoding="utf-8")


def _new_id(folder: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    candidate, suffix = stamp, 1
    while (folder / candidate).exists():
        candidate, suffix = f"{stamp}-{suffix}", suffix + 1
    return candidate


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
