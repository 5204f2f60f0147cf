"""`storage migrate`: copy what differs from one storage to another, restartably.

The plan compares each key by size, then by content: the MD5 an S3 listing carries for
single-part uploads or the object's metadata for multipart ones; else the ETag of the source
that a target object was copied from (kept in its metadata); else both sides are read. Every
copy streams in chunks and lands whole (an S3 object appears when complete; a local file is
renamed into place), so a run stopped at any point is finished by the next, which finds the
copied keys equal and copies nothing twice. Deletions run only after every copy succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from oppdemo.pause import pause_point

if TYPE_CHECKING:
    from oppdemo.storage.checksums import LocalChecksums
    from services.storage import StorageInterface
    from services.storage.base import FileInfo

T = TypeVar("T")
Action = Literal["copy", "delete"]
Outcome = Literal["copied", "deleted", "failed", "planned", "not run", "skipped"]
# Large files are copied two at a time at most: each holds a few multipart chunks in memory.
_LARGE = 64 * 1024 * 1024
_LARGE_AT_ONCE = 2
_CHUNK = 1024 * 1024
# A source file that changes while it is copied is sent again, this many times in all.
_SEND_ATTEMPTS = 3
VANISHED = "gone from the source since it was listed"
# The metadata key (x-amz-meta-...) that records the ETag of the object a copy came from;
# the S3 backend reads it back as `FileInfo.origin`.
ORIGIN_METADATA = "oppdemo-origin-etag"


def lasting_failure(error: BaseException) -> bool:
    """Whether a key failed for a reason a rerun meets again (a key the target cannot hold:
    '..', '//', a name too long, a key that is both a file and a folder, a name that is not
    UTF-8), rather than one that passes (a network error, a full disk since freed)."""
    return type(error).__name__ in ("UnsafeKeyError", "StorageConflictError", "UnsafeKey")


class MigrationStopped(Exception):
    """A signal arrived: the copy in flight gives up, leaving nothing half-written."""


class SourceChanged(OSError):
    """A source file kept changing while it was copied: what was sent is not what it holds."""


@dataclass(frozen=True)
class Step:
    """One key to copy (and why) or to delete from the target."""

    action: Action
    key: str
    size: int
    reason: str
    md5: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class MigrationPlan:
    steps: tuple[Step, ...]
    unchanged: int
    source: str
    target: str
    # Folder markers (zero-byte keys ending in '/', made by S3 consoles): never copied.
    skipped: tuple[str, ...] = ()
    # Symbolic links in a local source folder: never followed, so never copied.
    links: tuple[str, ...] = ()

    @property
    def bytes_to_copy(self) -> int:
        return sum(step.size for step in self.steps if step.action == "copy")


@dataclass(frozen=True)
class StepResult:
    step: Step
    outcome: Outcome
    error: str | None = None
    # A failure no rerun fixes (a key this target cannot hold): see `lasting_failure`.
    lasting: bool = False


@dataclass
class MigrationReport:
    plan: MigrationPlan
    results: list[StepResult] = field(default_factory=list)
    method: str = "streamed"
    bytes_read: int = 0
    # The signal (SIGINT, SIGTERM) that stopped the run, if one did.
    stopped_by: int | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def failed(self) -> list[StepResult]:
        return [result for result in self.results if result.outcome == "failed"]

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.plan.source,
            "target": self.plan.target,
            "method": self.method,
            "unchanged": self.plan.unchanged,
            "copied": self.count("copied"),
            "deleted": self.count("deleted"),
            "failed": len(self.failed),
            "not_run": self.count("not run"),
            "vanished": [r.step.key for r in self.results if r.outcome == "skipped"],
            "skipped": list(self.plan.skipped),
            "links": list(self.plan.links),
            "bytes": sum(r.step.size for r in self.results if r.outcome == "copied"),
            "bytes_read": self.bytes_read,
            "interrupted": self.stopped_by is not None,
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


def _is_folder_marker(info: FileInfo) -> bool:
    """A zero-byte key ending in '/' (what S3 consoles make for "Create folder"), or git's
    `.gitkeep`. A '/' key holding data is no marker: it is planned like any key, and fails by
    the storage's key rules (an empty segment), never skipped in silence."""
    from oppdemo.storage.portable import is_placeholder

    if is_placeholder(info.key):
        return True
    return info.size == 0 and (info.key == "" or info.key.endswith("/"))


def local_links(storage: object) -> tuple[str, ...]:
    """The keys of the symbolic links in a local storage's folder (which its listing leaves
    out: a link is never followed), for the summary to name; () for other storages."""
    base_dir = getattr(storage, "base_dir", None)
    if getattr(storage, "backend_name", None) != "filesystem" or base_dir is None:
        return ()
    base = os.path.realpath(base_dir)
    found = []
    for folder, folders, files in os.walk(base):
        for name in [*folders, *files]:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                found.append(os.path.relpath(path, base).replace(os.sep, "/"))
    return tuple(sorted(found))


def _read_md5(storage: StorageInterface, key: str) -> str:
    """The MD5 of a stored file, computed by reading it."""
    digest = hashlib.md5(usedforsecurity=False)
    with storage.open_file(key) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _source_md5(
    source: StorageInterface, checksums: LocalChecksums | None
) -> Callable[[str], str | None]:
    """How to learn a source file's MD5: remembered from an earlier run, or by reading it."""
    if checksums is None:
        return source.file_md5
    return lambda key: checksums.md5(key, lambda: source.file_md5(key))


def _in_background(action: Callable[[], T]) -> Future[T]:
    """Run `action` in a daemon thread: a Ctrl-C while it waits on a server that never
    answers is not held up by joining it (as a pool's worker would be, even at exit)."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(action())
        except BaseException as error:  # handed to the thread that waits for the result
            future.set_exception(error)

    threading.Thread(target=run, name="migrate-target-listing", daemon=True).start()
    return future


def plan_migration(
    source: StorageInterface,
    target: StorageInterface | Callable[[], StorageInterface],
    delete: bool = False,
    concurrency: int = 8,
    checksums: LocalChecksums | None = None,
) -> tuple[MigrationPlan, StorageInterface]:
    """What to copy so that the target holds every key of the source with the same bytes.

    `target` may be a function that makes the target storage: it is then made (for S3,
    botocore is imported and a client built) and listed in the background while the source
    is listed and its checksums computed, which a rerun needs for every key. Checksums the
    target's listing shows are not needed are cancelled. `checksums` remembers the MD5s of a
    local source's files between runs.
    """
    source_md5 = _source_md5(source, checksums)
    hashers = max(1, min(concurrency, os.cpu_count() or 1))
    with ThreadPoolExecutor(hashers) as pool:

        def make_and_list() -> tuple[StorageInterface, dict[str, FileInfo]]:
            storage = target() if callable(target) else target
            listing = storage.iter_files()
            return storage, {info.key: info for info in listing if not _is_folder_marker(info)}

        listing = _in_background(make_and_list)
        wanted: dict[str, FileInfo] = {}
        skipped: list[str] = []
        for info in source.iter_files():
            if _is_folder_marker(info):
                skipped.append(info.key or "/")
            else:
                wanted[info.key] = info
        early = {
            key: pool.submit(source_md5, key) for key, info in wanted.items() if info.md5 is None
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
                steps.append(Step("copy", key, info.size, "missing", info.md5, info.etag))
            elif there.size != info.size:
                steps.append(Step("copy", key, info.size, "size differs", info.md5, info.etag))
            else:
                same_size.append(key)
        needed = set(same_size)
        for key, future in early.items():
            if key not in needed:
                future.cancel()

        def same_content(key: str) -> tuple[str, bool, str | None]:
            try:
                return compare(key)
            except FileNotFoundError:
                # Deleted since it was listed (on either side): the copy step says which.
                return key, False, None

        def compare(key: str) -> tuple[str, bool, str | None]:
            mine_info, theirs_info = wanted[key], present[key]
            mine = mine_info.md5 or (early[key].result() if key in early else None)
            theirs = theirs_info.md5
            if mine is None or theirs is None:
                # What the target knows without reading: an MD5 kept in its metadata, and
                # the ETag of the source it was copied from (unchanged if the ETag is).
                known = target_storage.file_info(key)
                if mine_info.etag and known.origin == mine_info.etag:
                    return key, True, mine
                theirs = theirs or known.md5
                mine = mine or source_md5(key) or _read_md5(source, key)
                theirs = theirs or _read_md5(target_storage, key)
            return key, mine == theirs, mine

        unchanged = 0
        for key, same, mine in pool.map(same_content, same_size):
            if same:
                unchanged += 1
            else:
                info = wanted[key]
                steps.append(Step("copy", key, info.size, "content differs", mine, info.etag))
    if delete:
        steps += [
            Step("delete", key, info.size, "not in the source")
            for key, info in present.items()
            if key not in wanted
        ]
    steps.sort(key=lambda step: (step.action, step.key))
    plan = MigrationPlan(
        tuple(steps),
        unchanged,
        source.describe(),
        target_storage.describe(),
        tuple(sorted(skipped)),
        local_links(source),
    )
    return plan, target_storage


class MeteredStream:
    """A source stream that counts the bytes read through it and gives up once stopped."""

    def __init__(self, stream: Any, stop: Callable[[], bool], count: Callable[[int], None]):
        self._stream = stream
        self._stop = stop
        self._count = count

    def read(self, size: int = -1) -> bytes:
        pause_point("copy-read")
        if self._stop():
            raise MigrationStopped("stopped before this copy finished")
        chunk: bytes = self._stream.read(size)
        self._count(len(chunk))
        return chunk

    # A local file can seek, which lets an S3 upload read each part when it sends it.
    def seekable(self) -> bool:
        seekable = getattr(self._stream, "seekable", None)
        return bool(seekable and seekable())

    def seek(self, offset: int, whence: int = 0) -> int:
        result: int = self._stream.seek(offset, whence)
        return result

    def tell(self) -> int:
        result: int = self._stream.tell()
        return result


class SentStream(MeteredStream):
    """A source stream read once, in order, hashing the very bytes that are sent: the MD5
    kept with the copy (and remembered for the next run) is that of what was uploaded,
    whatever happens to the file meanwhile. It cannot seek, so nothing is read twice."""

    def __init__(self, stream: Any, stop: Callable[[], bool], count: Callable[[int], None]):
        super().__init__(stream, stop, count)
        self.digest = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.digest.update(chunk)
        return chunk

    def seekable(self) -> bool:
        return False


def run_migration(
    plan: MigrationPlan,
    source: StorageInterface,
    target: StorageInterface,
    concurrency: int | None = None,
    on_result: Callable[[StepResult], None] | None = None,
    errors: tuple[type[BaseException], ...] = (OSError,),
    keep: Callable[[StorageInterface, str], None] | None = None,
    stopped: Callable[[], int | None] = lambda: None,
    checksums: LocalChecksums | None = None,
) -> MigrationReport:
    """Carry out the plan: every copy first, then (only if all succeeded) every deletion.

    A key that fails (one the target cannot hold, say) fails alone. `keep(target, key)` is
    called before a target object is replaced or deleted (to back it up). `errors` are the
    exceptions that fail one key (the storage package's own, with OSError); anything else is
    a bug and stops the run. `concurrency` defaults to 8 copies at a time, 16 when the
    server copies (each is one short request). `stopped()` names the signal that asks the run
    to stop: nothing new starts, copies in flight give up, no deletion runs. `checksums`
    remembers the MD5s of a local source's files, for the next run to compare without reading.
    """
    report = MigrationReport(plan)
    large = threading.Semaphore(_LARGE_AT_ONCE)
    counted = threading.Lock()
    can_copy_from = getattr(target, "can_copy_from", None)
    server_side = bool(can_copy_from and can_copy_from(source))
    report.method = "server-side copy" if server_side else "streamed"
    concurrency = concurrency or (16 if server_side else 8)

    def is_stopped() -> bool:
        return stopped() is not None

    def count(size: int) -> None:
        with counted:
            report.bytes_read += size

    def copy(step: Step) -> None:
        if server_side:
            target.copy_from(source, step.key, step.size, step.md5, step.etag)  # type: ignore[attr-defined]
            return
        limit = large if step.size >= _LARGE else contextlib.nullcontext()
        with limit:
            for _ in range(_SEND_ATTEMPTS):
                if send(step):
                    return
        raise SourceChanged(
            f"{step.key} kept changing while it was copied ({_SEND_ATTEMPTS} times): its copy "
            "may hold other bytes; run again once it is no longer being written."
        )

    def send(step: Step) -> bool:
        """Copy one file; False when a local source changed while it was read (its size,
        times or inode before and after differ): the copy then holds no known state."""
        before = checksums.identity(step.key) if checksums is not None else None
        started = time.time_ns()
        with source.open_file(step.key) as stream:
            attributes = stream.attributes
            # The tag of the object actually read (it may have been replaced since the
            # listing): recorded as the copy's origin, to know it unchanged next time.
            etag = getattr(stream, "etag", None) or step.etag
            if step.md5 is None and etag:
                metadata = {**attributes.metadata, ORIGIN_METADATA: etag}
                attributes = type(attributes)(
                    attributes.cache_control, attributes.content_disposition, metadata
                )
            # No MD5 is given: the S3 backend hashes the bytes it sends (for an upload in
            # parts, kept in the object's metadata), as this stream does for the cache.
            sent = SentStream(stream, is_stopped, count)
            target.save_stream(sent, step.key, stream.content_type, None, attributes)
        if checksums is None:
            return True
        if before is None or checksums.identity(step.key) != before:
            return False
        checksums.remember(step.key, before, sent.digest.hexdigest(), started)
        return True

    def carry_out(step: Step) -> StepResult:
        if is_stopped():
            return StepResult(step, "not run", "interrupted")
        try:
            if keep is not None and step.reason != "missing":
                keep(target, step.key)
            if step.action == "delete":
                target.delete_file(step.key)
                return StepResult(step, "deleted")
            copy(step)
            return StepResult(step, "copied")
        except MigrationStopped:
            return StepResult(step, "not run", "interrupted while copying")
        except FileNotFoundError as error:
            if step.action == "copy" and not _exists(source, step.key):
                # Deleted from the source since the listing (the app's users delete photos):
                # nothing to copy; the run goes on, and the summary names it.
                return StepResult(step, "skipped", VANISHED)
            return StepResult(step, "failed", str(error) or type(error).__name__)
        except errors as error:
            if is_stopped():
                return StepResult(step, "not run", "interrupted while copying")
            message = str(error) or type(error).__name__
            return StepResult(step, "failed", message, lasting_failure(error))

    def record(result: StepResult) -> None:
        # In the thread that hands out steps: while it waits here, none starts.
        pause_point("migration step done")
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    copies = [step for step in plan.steps if step.action == "copy"]
    deletions = [step for step in plan.steps if step.action == "delete"]
    for result in _run_steps(copies, carry_out, concurrency, is_stopped):
        record(result)
    if deletions:
        if is_stopped():
            reason = "interrupted: deletions run only after every copy"
        elif report.failed:
            reason = "a copy failed: deletions run only after every copy succeeded"
        else:
            reason = ""
        if reason:
            for step in deletions:
                record(StepResult(step, "not run", reason))
        else:
            for result in _run_steps(deletions, carry_out, concurrency, is_stopped):
                record(result)
    report.stopped_by = stopped()
    report.results.sort(key=lambda result: (result.step.action, result.step.key))
    return report


def _exists(storage: StorageInterface, key: str) -> bool:
    """Whether `key` is stored, True when that cannot be told (the error is then reported)."""
    try:
        return storage.file_exists(key)
    except Exception:  # any doubt counts as present: the key then fails, never skips
        return True


# Once stopped, how long the steps in flight get to give up by themselves (a copy from a
# local file gives up at its next read): a step still waiting after that (on a server that
# never answers, say) is left behind, so that a Ctrl-C acts within 2 s.
STOP_GRACE = 1.0
IN_FLIGHT = "interrupted in flight: it may or may not have been done (a rerun finds out)"


def _run_steps(
    steps: Iterable[Step],
    carry_out: Callable[[Step], StepResult],
    concurrency: int,
    is_stopped: Callable[[], bool],
) -> Iterator[StepResult]:
    """Run steps `concurrency` at a time, starting none once stopped (those are "not run").

    Steps are handed out one by one as others finish, never queued all at once: a queue
    would have to be drained on a signal, and a stop must take effect at once. Steps run in
    (at most `concurrency`) daemon threads, never joined once stopped: a step blocked on a
    silent server is given `STOP_GRACE` seconds, then reported as not run and left behind
    (its process ends soon).
    """
    pending = iter(steps)
    inbox: queue.Queue[tuple[int, Step] | None] = queue.Queue()
    finished: queue.Queue[tuple[int, StepResult | BaseException]] = queue.Queue()
    running: dict[int, Step] = {}
    limit = max(1, concurrency)
    workers = 0
    deadline: float | None = None

    def work() -> None:
        while (item := inbox.get()) is not None:
            number, step = item
            try:
                finished.put((number, carry_out(step)))
            except BaseException as error:  # a bug: raised again in the calling thread
                finished.put((number, error))

    started = 0
    try:
        while True:
            while not is_stopped() and len(running) < limit:
                step = next(pending, None)
                if step is None:
                    break
                started += 1
                running[started] = step
                if workers < len(running):  # never more workers than steps at once
                    workers += 1
                    threading.Thread(target=work, name=f"migrate-{workers}", daemon=True).start()
                inbox.put((started, step))
            if not running:
                break
            if is_stopped() and deadline is None:
                deadline = time.monotonic() + STOP_GRACE
            if deadline is not None and time.monotonic() >= deadline:
                for step in running.values():
                    yield StepResult(step, "not run", IN_FLIGHT)
                running.clear()
                break
            try:
                done, outcome = finished.get(timeout=0.1)
            except queue.Empty:
                continue
            del running[done]
            if isinstance(outcome, BaseException):
                raise outcome
            yield outcome
    finally:
        for _ in range(workers):
            inbox.put(None)  # each idle worker ends; one left in flight, after its step
    for step in pending:
        yield StepResult(step, "not run", "interrupted")
