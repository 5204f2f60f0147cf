"""`storage migrate`: copy what differs from one storage to another, restartably.

The plan compares each key by size, then by content checksum (MD5): an S3 listing carries it
for single-part uploads, the object's metadata for multipart ones, and a local file is read to
compute it. Every copy streams in chunks and lands whole (an S3 object appears when complete;
a local file is renamed into place), so a run killed at any point is finished by the next,
which finds the copied keys equal and copies nothing twice.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from services.storage import StorageInterface
    from services.storage.base import FileInfo

Action = Literal["copy", "delete"]
Outcome = Literal["copied", "deleted", "failed", "planned"]
# Large files are copied two at a time at most: each holds a few multipart chunks in memory.
_LARGE = 64 * 1024 * 1024
_LARGE_AT_ONCE = 2
# The smallest multipart threshold S3_MULTIPART_THRESHOLD_MB allows.
_KEEP_MD5_FROM = 1024 * 1024


@dataclass(frozen=True)
class Step:
    """One key to copy (and why) or to delete from the target."""

    action: Action
    key: str
    size: int
    reason: str
    md5: str | None = None


@dataclass(frozen=True)
class MigrationPlan:
    steps: tuple[Step, ...]
    unchanged: int
    source: str
    target: str

    @property
    def bytes_to_copy(self) -> int:
        return sum(step.size for step in self.steps if step.action == "copy")


@dataclass(frozen=True)
class StepResult:
    step: Step
    outcome: Outcome
    error: str | None = None


@dataclass
class MigrationReport:
    plan: MigrationPlan
    results: list[StepResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def failed(self) -> list[StepResult]:
        return [result for result in self.results if result.outcome == "failed"]

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.plan.source,
            "target": self.plan.target,
            "unchanged": self.plan.unchanged,
            "copied": self.count("copied"),
            "deleted": self.count("deleted"),
            "failed": len(self.failed),
            "bytes": sum(r.step.size for r in self.results if r.outcome == "copied"),
            "steps": [
                {
                    "action": r.step.action,
                    "key": r.step.key,
                    "size": r.step.size,
                    "reason": r.step.reason,
                    "outcome": r.outcome,
                    **({"error": r.error} if r.error else {}),
                }
                for r in self.results
            ],
        }


def plan_migration(
    source: StorageInterface,
    target: StorageInterface | Callable[[], StorageInterface],
    delete: bool = False,
    concurrency: int = 8,
) -> tuple[MigrationPlan, StorageInterface]:
    """What to copy so that the target holds every key of the source with the same bytes.

    `target` may be a function that makes the target storage: it is then made (for S3,
    botocore is imported and a client built) and listed in the background while the source
    is listed and its checksums computed, which a rerun needs for every key. Checksums the
    target's listing shows are not needed are cancelled.
    """
    hashers = max(1, min(concurrency, os.cpu_count() or 1))
    with ThreadPoolExecutor(1) as lister, ThreadPoolExecutor(hashers) as pool:

        def make_and_list() -> tuple[StorageInterface, dict[str, FileInfo]]:
            storage = target() if callable(target) else target
            return storage, {info.key: info for info in storage.iter_files()}

        listing = lister.submit(make_and_list)
        wanted = {info.key: info for info in source.iter_files()}
        early = {
            key: pool.submit(source.file_md5, key)
            for key, info in wanted.items()
            if info.md5 is None
        }
        try:
            target_storage, present = listing.result()
        except BaseException:
            for future in early.values():
                future.cancel()
            raise
        steps: list[Step] = []
        same_size: list[str] = []
        for key, info in wanted.items():
            there = present.get(key)
            if there is None:
                steps.append(Step("copy", key, info.size, "missing", info.md5))
            elif there.size != info.size:
                steps.append(Step("copy", key, info.size, "size differs", info.md5))
            else:
                same_size.append(key)
        needed = set(same_size)
        for key, future in early.items():
            if key not in needed:
                future.cancel()

        def checksums(key: str) -> tuple[str, str | None, str | None]:
            mine = wanted[key].md5 or (early[key].result() if key in early else None)
            theirs = present[key].md5 or target_storage.file_md5(key)
            return key, mine, theirs

        unchanged = 0
        for key, mine, theirs in pool.map(checksums, same_size):
            if mine is not None and mine == theirs:
                unchanged += 1
            else:
                reason = "content differs" if mine and theirs else "checksum unknown"
                steps.append(Step("copy", key, wanted[key].size, reason, mine))
    if delete:
        steps += [
            Step("delete", key, info.size, "not in the source")
            for key, info in present.items()
            if key not in wanted
        ]
    steps.sort(key=lambda step: (step.action, step.key))
    plan = MigrationPlan(tuple(steps), unchanged, source.describe(), target_storage.describe())
    return plan, target_storage


def run_migration(
    plan: MigrationPlan,
    source: StorageInterface,
    target: StorageInterface,
    concurrency: int = 8,
    on_result: Callable[[StepResult], None] | None = None,
    errors: tuple[type[BaseException], ...] = (OSError,),
    keep: Callable[[StorageInterface, str], None] | None = None,
) -> MigrationReport:
    """Carry out the plan; a key that fails (one the target cannot hold, say) fails alone.

    `keep(target, key)` is called before a target object is replaced or deleted (to back it
    up). `errors` are the exceptions that fail one key (the storage package's own, with
    OSError); anything else is a bug and stops the run.
    """
    report = MigrationReport(plan)
    large = threading.Semaphore(_LARGE_AT_ONCE)

    def carry_out(step: Step) -> StepResult:
        try:
            if keep is not None and step.reason != "missing":
                keep(target, step.key)
            if step.action == "delete":
                target.delete_file(step.key)
                return StepResult(step, "deleted")
            md5 = step.md5
            if md5 is None and step.size >= _KEEP_MD5_FROM:
                # A file this large may go up to S3 in parts, whose ETag is no MD5: pass the
                # MD5 along to be kept in the object's metadata, so a rerun can compare it.
                md5 = source.file_md5(step.key)
            limit = large if step.size >= _LARGE else contextlib.nullcontext()
            with limit, source.open_file(step.key) as stream:
                target.save_stream(stream, step.key, stream.content_type, md5)
            return StepResult(step, "copied")
        except errors as error:
            return StepResult(step, "failed", str(error) or type(error).__name__)

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        futures = [pool.submit(carry_out, step) for step in plan.steps]
        for future in as_completed(futures):
            result = future.result()
            report.results.append(result)
            if on_result is not None:
                on_result(result)
    report.results.sort(key=lambda result: (result.step.action, result.step.key))
    return report
