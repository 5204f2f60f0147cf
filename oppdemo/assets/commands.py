"""The commands as plain functions: they return results and raise `OppdemoError`, never print."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from oppdemo.assets.compare import AssetDrift, DriftReport, compare_trees, under_any
from oppdemo.assets.ignore import NO_IGNORES
from oppdemo.assets.manifest import (
    DEFAULT_BACKUPS,
    Asset,
    Manifest,
    load_manifest,
    parse_manifest,
    relative_path,
)
from oppdemo.assets.plan import (
    Operation,
    Plan,
    check_access,
    join,
    mirror,
    missing_folders,
    ordered,
    purge_ignored,
    refuse_linked_folders,
    removal,
    spare,
    spare_ignored,
)
from oppdemo.assets.scan import Tree, scan_tree
from oppdemo.errors import ManifestError, PlanError

# Backups, the engine and the lock are loaded by the commands that change files, so that
# `diff`, which CI runs on every push, starts without them.
if TYPE_CHECKING:
    from oppdemo.assets.backups import BackupStore, BackupSummary, PrunePlan, Record
    from oppdemo.assets.manifest_writer import Discovery

# `destroy` writes this file into the snapshot folder and `restore` removes it: committed with
# the snapshot, it tells every clone (CI's too) that the project has left the demo on purpose.
DESTROYED_MARKER = ".destroyed"
MARKER_TEXT = (
    "The demo was removed by `oppdemo destroy`; this folder keeps it.\n"
    "`oppdemo restore` brings it back and removes this file. Commit it with the folder, so\n"
    "that `oppdemo diff` (the pre-commit hook, CI) knows the project has left the demo.\n"
)


@dataclass(frozen=True)
class Outcome:
    """What a changing command planned and, unless it was a dry run, the backup it made."""

    plan: Plan
    record: Record | None = None
    # Where the backup is kept, when `undo` must be told (no manifest names it any more).
    backups_folder: str | None = None
    # Files of the user's that the plan overwrites or removes (changes it would discard).
    discards: tuple[str, ...] = ()

    @property
    def undo_command(self) -> str | None:
        """The command that puts this change back, if it made a backup."""
        if self.record is None:
            return None
        option = f" --backups {shlex.quote(self.backups_folder)}" if self.backups_folder else ""
        return f"oppdemo undo{option} {self.record.id}"

    def to_dict(self) -> dict[str, object]:
        """The `--json` form: the command, its backup (None on a dry run) and each operation
        (and, for `restore` and `undo`, the changed files they discard)."""
        result: dict[str, object] = {
            "command": self.plan.command,
            "backup": self.record.id if self.record else None,
            "undo": self.undo_command,
            "operations": [
                {"action": operation.verb, "path": operation.path}
                for operation in self.plan.operations
            ],
        }
        if self.plan.command in ("restore", "undo"):
            result["discards"] = list(self.discards)
        return result


def diff(project_dir: Path, staged: bool = False) -> DriftReport:
    """Compare each asset's working files with its saved copy.

    A destroyed project, or one with no demo machinery at all, has nothing to compare: the
    report says which (and passes the drift gate). With `staged` (the pre-commit hook), a
    working file in git's index whose new snapshot copy git does not track yet counts as
    added: the commit would hold the file without its copy."""
    manifest = load_manifest(project_dir)
    if not has_table(manifest.root) and not (manifest.root / manifest.snapshot).is_dir():
        return DriftReport((), "none", manifest.snapshot)
    if is_destroyed(manifest):
        return DriftReport((), "destroyed", manifest.snapshot)
    _require_defaults_fit(manifest)
    report = _drift(manifest)
    if report.in_sync:
        missing = _copies_not_staged(manifest) if staged else {}
        if not missing:
            return report
        drifts = tuple(
            replace(asset, added=tuple(sorted(missing.get(asset.path, ()))))
            for asset in report.assets
        )
        return replace(report, assets=drifts, saved_unstaged=True)
    return replace(report, saved_unstaged=_save_set_aside(manifest, report))


def _copies_not_staged(manifest: Manifest) -> dict[str, list[str]]:
    """Per asset, the working files in git's index whose snapshot copy is untracked (a new
    copy that `save` made and nobody added). Outside a git work tree, none."""
    import subprocess

    def git(*arguments: str) -> list[str]:
        try:
            listed = subprocess.run(
                ["git", "--literal-pathspecs", "ls-files", "-z", *arguments],
                cwd=manifest.root,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return []
        if listed.returncode != 0:
            return []
        return [path for path in os.fsdecode(listed.stdout).split("\0") if path]

    counterparts: dict[str, tuple[str, str]] = {}
    for copy in git("--others", "--exclude-standard", "--", manifest.snapshot):
        for asset in manifest.assets:
            saved = manifest.saved_path(asset)
            if copy == saved or copy.startswith(f"{saved}/"):
                counterparts[asset.path + copy[len(saved) :]] = (asset.path, copy)
    missing: dict[str, list[str]] = {}
    if counterparts:
        for path in git("--", *counterparts):
            if path in counterparts:
                missing.setdefault(counterparts[path][0], []).append(path)
    return missing


def _save_set_aside(manifest: Manifest, report: DriftReport) -> bool:
    """True when the latest backup is a finished `save` that wrote the snapshot copy of every
    drifted file, none of which changed since: the snapshot was saved, then put back to an
    older state, as pre-commit does with unstaged changes while its hooks run."""
    from oppdemo.errors import BackupError

    store = _store(manifest)
    ids = store.ids()
    if not ids:
        return False
    try:
        record = store.load(ids[-1])
    except BackupError:
        return False
    if record.command != "save" or not record.complete:
        return False
    finished = store.finished_at(record.id)
    touched = {operation.path for operation in record.operations if operation.changes_a_file}
    for asset in report.assets:
        for path in asset.added + asset.modified + asset.deleted:
            if asset.saved_counterpart(path) not in touched:
                return False
            try:
                info = os.lstat(manifest.root / path)
            except FileNotFoundError:
                continue  # deleted, and the save removed its copy
            if max(info.st_mtime, info.st_ctime) > finished:
                return False
    return True


def is_destroyed(manifest: Manifest) -> bool:
    """True after `destroy` (until `restore`): the snapshot holds the destroyed marker."""
    return os.path.isfile(manifest.root / manifest.snapshot / DESTROYED_MARKER)


def has_table(root: Path) -> bool:
    """True when pyproject.toml has a [tool.oppdemo] table (else the defaults apply)."""
    from oppdemo.assets.manifest import read_pyproject

    return "oppdemo" in read_pyproject(root)[1].get("tool", {})


def _require_defaults_fit(manifest: Manifest) -> None:
    """Without a [tool.oppdemo] table the default assets apply; where they do not fit (an
    asset in neither tree, or a snapshot of a newer layout), the project needs `init`, not a
    fix of a table it does not have."""
    if has_table(manifest.root):
        return
    misfit = None
    for asset in manifest.assets:
        paths = (asset.path, manifest.saved_path(asset))
        if not any(os.path.lexists(manifest.root / path) for path in paths):
            misfit = f"{asset.path} is in neither the working tree nor {manifest.snapshot}/"
    # A snapshot with folders the defaults do not save is a newer layout (FastOpp's admin/,
    # routes/, ...): comparing only the defaults would call the rest of it deleted.
    covered = {PurePosixPath(asset.saved).parts[0] for asset in manifest.assets}
    snapshot = manifest.root / manifest.snapshot
    if misfit is None and snapshot.is_dir():
        others = sorted(
            entry.name
            for entry in os.scandir(snapshot)
            if entry.is_dir(follow_symlinks=False) and entry.name not in covered
        )
        if others:
            misfit = f"{manifest.snapshot}/ also holds {others[0]}/, which they do not cover"
    if misfit is not None:
        raise ManifestError(
            f"pyproject.toml has no [tool.oppdemo] table and the default assets do not fit "
            f"this project ({misfit}): run `oppdemo init` to write the table."
        )


def _drift(manifest: Manifest) -> DriftReport:
    _require_snapshot(manifest)
    drifts = []
    for asset, working, saved in _scan_assets(manifest):
        if not working.exists and not saved.exists:
            raise PlanError(
                f"{asset.path} is missing from both the working tree and the snapshot: "
                "restore it (from git, say) or remove it from [tool.oppdemo].assets."
            )
        changes = compare_trees(working, saved)
        drifts.append(
            AssetDrift(
                asset.path,
                manifest.saved_path(asset),
                tuple(join(asset.path, key) for key in changes.added),
                tuple(join(asset.path, key) for key in changes.modified),
                tuple(join(asset.path, key) for key in changes.deleted),
            )
        )
    return DriftReport(tuple(drifts), snapshot=manifest.snapshot)


def save(project_dir: Path, dry_run: bool = False) -> Outcome:
    """Make the snapshot an exact copy of the working files."""
    manifest = load_manifest(project_dir)
    if is_destroyed(manifest):
        raise PlanError(
            f"The demo was destroyed ({manifest.snapshot}/{DESTROYED_MARKER}), so saving would "
            f"replace the demo kept in {manifest.snapshot}/ with your own files: run "
            "`oppdemo restore` first to bring the demo back."
        )
    _require_defaults_fit(manifest)
    return _change(manifest, lambda: _mirror_assets(manifest, "save"), dry_run)


def restore(
    project_dir: Path, dry_run: bool = False, allowed: Collection[str] | None = None
) -> Outcome:
    """Make the working files an exact copy of the snapshot (and clear the destroyed state).

    `allowed`, when given, names the changed working files the caller agreed to discard: a
    plan that would discard any other (a file changed since it asked) is refused."""
    manifest = load_manifest(project_dir)
    _require_defaults_fit(manifest)
    _require_snapshot(manifest)
    found: dict[str, tuple[str, ...]] = {}

    def build() -> Plan:
        plan = _mirror_assets(manifest, "restore", found)
        if not is_destroyed(manifest):
            return plan
        marker = Operation("remove", f"{manifest.snapshot}/{DESTROYED_MARKER}", "file")
        return Plan(plan.command, ordered((*plan.operations, marker)), plan.stale)

    return _change(manifest, build, dry_run, discards=lambda: found["discards"], allowed=allowed)


def _mirror_assets(
    manifest: Manifest, command: str, found: dict[str, tuple[str, ...]] | None = None
) -> Plan:
    """The plan of `save` (working files to snapshot) or `restore` (the other way).

    For `restore`, `found["discards"]` is set to the working files it would overwrite or
    remove that hold something of the user's: all that differ from the snapshot, except, in a
    destroyed project, the files `destroy` put there from a base and that are still so."""
    operations: list[Operation] = []
    stale: list[str] = []
    discards: list[str] = []
    destroyed = command == "restore" and is_destroyed(manifest)
    for asset, working, saved in _scan_assets(manifest):
        saved_path = manifest.saved_path(asset)
        if command == "save" and not working.exists:
            raise PlanError(
                f"{asset.path} is missing from the working tree, so saving would delete its "
                "saved copy: run `oppdemo restore` first, or remove it from "
                "[tool.oppdemo].assets."
            )
        if command == "restore" and not saved.exists:
            raise PlanError(
                f"{saved_path} is missing from the snapshot: run `oppdemo save` first, "
                "or check [tool.oppdemo].assets."
            )
        if command == "save":
            operations += purge_ignored(saved, saved_path)
            operations += _mirror(manifest, working, asset.path, saved, saved_path)
        else:
            steps = _mirror(manifest, saved, saved_path, working, asset.path)
            operations += steps
            ignored = {join(asset.path, key) for key in working.ignored}
            discards += [
                step.path
                for step in steps
                if (step.action == "remove" or (step.action == "write" and step.existed))
                and step.path not in ignored
                and not (destroyed and _as_destroy_left_it(manifest, asset, step.path))
            ]
        stale += _stale(working, asset.path) + _stale(saved, saved_path)
    if found is not None:
        found["discards"] = tuple(sorted(discards))
    return Plan(command, ordered(operations), tuple(stale))


def _as_destroy_left_it(manifest: Manifest, asset: Asset, path: str) -> bool:
    """True when a working file is still the copy of the asset's base that `destroy` put there
    (the same bytes, or the same link): replacing it loses nothing of the user's."""
    from oppdemo.assets.compare import same_content

    if asset.base is None:
        return False
    here, there = manifest.root / path, manifest.root / (asset.base + path[len(asset.path) :])
    if here.is_symlink() or there.is_symlink():
        return here.is_symlink() and there.is_symlink() and os.readlink(here) == os.readlink(there)
    try:
        return here.is_file() and there.is_file() and same_content(here, there)
    except OSError:
        return False


def destroy(project_dir: Path, dry_run: bool = False, force: bool = False) -> Outcome:
    """Remove the demo assets from the working tree (putting an asset's `base` in its place)."""
    manifest = load_manifest(project_dir)
    if is_destroyed(manifest):
        # Nothing of the demo is left to remove, and what stands in its place is the user's.
        return Outcome(Plan("destroy", ()))
    _require_defaults_fit(manifest)
    if not force:
        _refuse_unsaved_work(manifest)
    staged: list[Path] = []

    def build() -> Plan:
        operations: list[Operation] = []
        stale: list[str] = []
        if (manifest.root / manifest.snapshot).is_dir():
            # The marker is part of the plan, so `undo` removes it with the rest.
            operations.append(_marker_write(manifest, staged, dry_run))
        for asset in manifest.assets:
            if asset.on_destroy == "keep":
                continue
            # Ignored files (caches, secrets, uploads) are the user's: destroy leaves them.
            rules = manifest.rules_for(asset)
            working = scan_tree(manifest.root / asset.path, rules)
            stale += _stale(working, asset.path)
            if asset.on_destroy == "remove" or asset.base is None:
                refuse_linked_folders(manifest.root, asset.path)
                operations += removal(working, asset.path, asset.keep)
                continue
            base = scan_tree(manifest.root / asset.base, rules)
            if not base.exists:
                raise PlanError(
                    f"{asset.base}, the base of {asset.path}, does not exist: create it or drop "
                    "'base' from the manifest."
                )
            mirrored = _mirror(manifest, base, asset.base, working, asset.path)
            operations += spare(mirrored, asset.path, asset.keep)
        return Plan("destroy", ordered(operations), tuple(stale))

    return _change(manifest, build, dry_run, staged=staged)


def _marker_write(manifest: Manifest, staged: list[Path], dry_run: bool) -> Operation:
    """The write of the destroyed marker; its text is staged in the backups folder (made by
    the lock) and renamed into place by the engine, like any other write."""
    marker = f"{manifest.snapshot}/{DESTROYED_MARKER}"
    if dry_run:
        # A dry run copies nothing; the access check only needs a readable source.
        return Operation("write", marker, source="pyproject.toml")
    folder = manifest.root / manifest.backups
    path = folder / f".staged-{os.urandom(4).hex()}.destroyed"
    path.write_text(MARKER_TEXT, encoding="utf-8")
    staged.append(path)
    return Operation("write", marker, source=path.relative_to(manifest.root).as_posix())


def undo(
    project_dir: Path,
    backup_id: str | None = None,
    dry_run: bool = False,
    backups_folder: str | None = None,
    allowed: Collection[str] | None = None,
) -> Outcome:
    """Put back the files as they were before a command (by default the latest one).

    `backups_folder` (relative to the project) overrides the manifest's: after `eject`, no
    manifest names a custom one any more. The outcome's `discards` are the files changed since
    that command ran that undo would overwrite or remove; `allowed` as for `restore`."""
    from oppdemo.assets.engine import reverse_operations

    manifest = load_manifest(project_dir)
    store = _store(manifest, backups_folder)
    found: dict[str, tuple[str, ...]] = {}

    def build() -> Plan:
        target = store.load(backup_id) if backup_id else store.latest()
        if backup_id is None and backups_folder is None and target.command != "eject":
            _refuse_after_eject_elsewhere(manifest.root, store.folder / target.id, target.command)
        if backup_id is None and target.command == "undo" and not target.complete and target.undoes:
            # An undo that was interrupted is finished, not reversed.
            target = store.load(target.undoes)
        stale = [
            path
            for asset, working, saved in _scan_assets(manifest)
            for path in _stale(working, asset.path) + _stale(saved, manifest.saved_path(asset))
        ]
        operations = spare_ignored(manifest, reverse_operations(store, target))
        found["discards"] = _changed_since(manifest, store, target, operations)
        return Plan("undo", operations, tuple(stale), target.id)

    if not store.folder.is_dir():
        # Said before the lock, which would make the folder: a refused undo changes nothing.
        named = store.folder.relative_to(manifest.root).as_posix()
        raise PlanError(
            f"There are no backups in {named}/: nothing to undo (after an eject whose backups "
            "were kept elsewhere, name that folder with --backups)."
        )
    return _change(
        manifest, build, dry_run, store, discards=lambda: found["discards"], allowed=allowed
    )


def _changed_since(
    manifest: Manifest, store: BackupStore, record: Record, operations: tuple[Operation, ...]
) -> tuple[str, ...]:
    """The files that undoing `record` would overwrite or remove and that changed after its
    command finished: written since (a later command, or the user), or made since where the
    command left nothing. Finishing an interrupted command discards nothing of the user's."""
    if not record.complete:
        return ()
    finished = store.finished_at(record.id)
    written = {operation.path for operation in record.operations if operation.action == "write"}
    ignored: set[str] = set()
    for operation in operations:
        if operation.action == "rmdir":  # caches inside a folder that goes are not work
            tree = scan_tree(manifest.root / operation.path, manifest.ignore)
            ignored.update(join(operation.path, key) for key in tree.ignored)
    changed = []
    for operation in operations:
        if not (
            operation.action == "remove" or (operation.action == "write" and operation.existed)
        ):
            continue
        if operation.path in ignored:
            continue
        if operation.path in written:
            try:
                info = os.lstat(manifest.root / operation.path)
            except OSError:
                continue
            # A copy keeps its source's modification time; the change time (on Windows the
            # creation time) is when oppdemo put it there. Either later means a newer change.
            if max(info.st_mtime, info.st_ctime) <= finished:
                continue
        changed.append(operation.path)
    return tuple(sorted(changed))


def _refuse_after_eject_elsewhere(root: Path, record_folder: Path, command: str) -> None:
    """A project with no [tool.oppdemo] table whose pyproject.toml changed after the latest
    backup found here was most likely ejected with its backup kept in a custom folder: undoing
    the latest one here would undo an older command instead."""
    from oppdemo.assets.manifest import PYPROJECT, read_pyproject

    if "oppdemo" in read_pyproject(root)[1].get("tool", {}):
        return
    try:
        changed_after = (root / PYPROJECT).stat().st_mtime > record_folder.stat().st_mtime
    except OSError:
        return
    if changed_after:
        latest = record_folder.name
        raise PlanError(
            f"pyproject.toml has no [tool.oppdemo] table and changed after the latest backup "
            f"here ({latest}, a {command}): if an eject kept its backup elsewhere, name that "
            f"folder with --backups; to undo this {command} anyway, give its id "
            f"(`oppdemo undo {latest}`)."
        )


@dataclass(frozen=True)
class InitOutcome:
    """What `init` found and the change it made to pyproject.toml (a plan only on a dry run)."""

    discovery: Discovery
    outcome: Outcome

    def to_dict(self) -> dict[str, object]:
        return self.discovery.to_dict() | self.outcome.to_dict()


def init(project_dir: Path, force: bool = False, dry_run: bool = False) -> InitOutcome:
    """Write `[tool.oppdemo]` into pyproject.toml for the assets found in the snapshot."""
    import os
    import stat
    import tomllib

    from oppdemo.assets.engine import execute
    from oppdemo.assets.lock import project_lock
    from oppdemo.assets.manifest import PYPROJECT, read_pyproject
    from oppdemo.assets.manifest_writer import DEFAULT_SNAPSHOT, discover, updated_pyproject
    from oppdemo.interrupt import deferred_signals

    root = project_dir.resolve()
    text, current = read_pyproject(root)
    existing = current.get("tool", {}).get("oppdemo", {})
    snapshot = existing.get("snapshot") if isinstance(existing, dict) else None
    discovery = discover(root, snapshot if isinstance(snapshot, str) else DEFAULT_SNAPSHOT)
    updated = updated_pyproject(text, discovery.table, force)
    if dry_run:
        write = Operation("write", PYPROJECT, source=PYPROJECT, existed=True, replaced="file")
        return InitOutcome(discovery, Outcome(Plan("init", (write,))))
    manifest = parse_manifest(root, tomllib.loads(updated)["tool"]["oppdemo"])
    store = _store(manifest)
    with project_lock(store.folder), deferred_signals() as guard:
        # The new file is staged in the backups folder, so the engine can back up the old one
        # and rename the new one into place like any other write (and `undo` reverses it).
        staged = store.folder / f".staged-{os.urandom(4).hex()}.toml"
        try:
            staged.write_text(updated, encoding="utf-8")
            staged.chmod(stat.S_IMODE((root / PYPROJECT).stat().st_mode))
            source = staged.relative_to(root).as_posix()
            plan = Plan(
                "init",
                (Operation("write", PYPROJECT, source=source, existed=True, replaced="file"),),
            )
            check_access(root, plan)
            record = execute(store, plan, guard)
        finally:
            staged.unlink(missing_ok=True)
    return InitOutcome(discovery, Outcome(plan, record))


SHIM_MARKER = "from oppdemo.__main__ import main"


def eject(project_dir: Path, dry_run: bool = False) -> Outcome:
    """Leave the demo machinery for good: remove the snapshot, the `base` folders and the
    `[tool.oppdemo]` table (and oppdemo's `oppdemo.py` shim); the assets' files stay as they
    are. Backed up like any change, so `undo` puts everything back."""
    import os
    import stat

    from oppdemo.assets.engine import execute
    from oppdemo.assets.lock import project_lock
    from oppdemo.assets.manifest import PYPROJECT, read_pyproject
    from oppdemo.assets.manifest_writer import BASE_FOLDER, without_table
    from oppdemo.interrupt import deferred_signals

    manifest = load_manifest(project_dir)
    root = manifest.root
    text, current = read_pyproject(root)
    updated = without_table(text) if "oppdemo" in current.get("tool", {}) else None

    def build(pyproject_source: str | None) -> Plan:
        operations: list[Operation] = []
        bases = {asset.base for asset in manifest.assets if asset.base is not None}
        # `init` names the bases inside one folder (FastOpp's base_assets/): it goes whole,
        # with what no asset names (its README, scripts/); a base elsewhere goes alone.
        if any(PurePosixPath(base).parts[0] == BASE_FOLDER for base in bases):
            bases = {base for base in bases if PurePosixPath(base).parts[0] != BASE_FOLDER}
            bases.add(BASE_FOLDER)
        for folder in [manifest.snapshot, *sorted(bases)]:
            tree = scan_tree(root / folder, NO_IGNORES)
            if tree.exists:
                refuse_linked_folders(root, folder)
                operations += removal(tree, folder)
        shim = root / "oppdemo.py"
        if shim.is_file() and not shim.is_symlink() and SHIM_MARKER in shim.read_text("utf-8"):
            operations.append(Operation("remove", "oppdemo.py", "file"))
        if pyproject_source is not None:
            operations.append(
                Operation(
                    "write", PYPROJECT, source=pyproject_source, existed=True, replaced="file"
                )
            )
        return Plan("eject", ordered(operations))

    store = _store(manifest)
    if dry_run:
        plan = build(PYPROJECT if updated is not None else None)
        check_access(root, plan)
        return Outcome(plan)
    with project_lock(store.folder), deferred_signals() as guard:
        # The new pyproject.toml is staged in the backups folder and renamed into place by the
        # engine, which backs up the old one first (as `init` does).
        staged = store.folder / f".staged-{os.urandom(4).hex()}.toml"
        try:
            source = None
            if updated is not None:
                staged.write_text(updated, encoding="utf-8")
                staged.chmod(stat.S_IMODE((root / PYPROJECT).stat().st_mode))
                source = staged.relative_to(root).as_posix()
            plan = build(source)
            check_access(root, plan)
            guard.check()
            if not plan.operations:
                return Outcome(plan)
            # Once the table is gone only the default folder is found without being named.
            named = manifest.backups if manifest.backups != DEFAULT_BACKUPS else None
            return Outcome(plan, execute(store, plan, guard), named)
        finally:
            staged.unlink(missing_ok=True)


def backups(project_dir: Path, backups_folder: str | None = None) -> list[BackupSummary]:
    """List the backups, oldest first (from `backups_folder` when given, as for `undo`)."""
    return _store(load_manifest(project_dir), backups_folder).summaries()


def prune_backups(
    project_dir: Path,
    keep: int | None = None,
    older_than_days: float | None = None,
    dry_run: bool = False,
    backups_folder: str | None = None,
) -> PrunePlan:
    """Remove old backups: those beyond the `keep` newest and older than `older_than_days`."""
    from datetime import timedelta

    from oppdemo.assets.lock import project_lock

    if keep is None and older_than_days is None:
        raise PlanError("Say which backups to prune: pass --keep N, --older-than DAYS, or both.")
    store = _store(load_manifest(project_dir), backups_folder)
    older_than = timedelta(days=older_than_days) if older_than_days is not None else None
    if dry_run:
        return store.prune_plan(keep, older_than)
    with project_lock(store.folder):
        plan = store.prune_plan(keep, older_than)
        for item in plan.remove:
            store.remove(item)
    return plan


def _change(
    manifest: Manifest,
    build: Callable[[], Plan],
    dry_run: bool,
    store: BackupStore | None = None,
    staged: list[Path] | None = None,
    discards: Callable[[], tuple[str, ...]] = tuple,
    allowed: Collection[str] | None = None,
) -> Outcome:
    """Plan, check, and (unless a dry run) apply under the project lock, backed up in `store`
    (the manifest's backups folder by default).

    `staged` files (sources that `build` wrote into the backups folder) are removed afterwards;
    `discards` tells, once `build` ran, which of the user's files the plan would discard, and a
    plan that discards one outside `allowed` (when given) is refused."""
    from oppdemo.assets import fileops
    from oppdemo.assets.engine import execute
    from oppdemo.assets.lock import project_lock
    from oppdemo.interrupt import deferred_signals

    store = store or _store(manifest)
    if dry_run:
        plan = build()
        check_access(manifest.root, plan)
        return Outcome(plan, discards=discards())
    with project_lock(store.folder), deferred_signals() as guard:
        try:
            plan = build()
            lost = discards()
            if allowed is not None:
                unasked = sorted(set(lost) - set(allowed))
                if unasked:
                    raise PlanError(
                        f"{len(unasked)} file(s) changed since you were asked (first: "
                        f"{unasked[0]}): nothing was changed; run `oppdemo {plan.command}` again."
                    )
            check_access(manifest.root, plan)
            guard.check()
            if not plan.operations:
                for stale in plan.stale:
                    fileops.remove_temporary(manifest.root / stale)
                return Outcome(plan)
            return Outcome(plan, execute(store, plan, guard), discards=lost)
        finally:
            for path in staged or ():
                path.unlink(missing_ok=True)


def _mirror(
    manifest: Manifest, source: Tree, source_base: str, target: Tree, target_base: str
) -> list[Operation]:
    changed = set(compare_trees(source, target).modified)
    return missing_folders(manifest.root, target_base) + mirror(
        source, source_base, target, target_base, changed
    )


def _refuse_unsaved_work(manifest: Manifest) -> None:
    if not (manifest.root / manifest.snapshot).is_dir():
        raise PlanError(
            f"There is no snapshot ({manifest.snapshot}/), so destroy would lose the demo files: "
            "run `oppdemo save` first, or pass --force."
        )
    # Only work that exists in the working tree can be lost; files already gone from it are not.
    report = _drift(manifest)
    # What destroy leaves in place (an asset it keeps, an entry it spares) cannot be lost.
    spared = [asset.path for asset in manifest.assets if asset.on_destroy == "keep"]
    spared += [join(asset.path, key) for asset in manifest.assets for key in asset.keep]
    unsaved = [
        path
        for asset in report.assets
        for path in asset.added + asset.modified
        if path not in spared and not under_any(path, spared)
    ]
    if unsaved:
        raise PlanError(
            f"{len(unsaved)} demo file(s) differ from the snapshot (first: {unsaved[0]}): "
            "run `oppdemo save` first, or pass --force to destroy anyway."
        )


def _scan_assets(manifest: Manifest) -> list[tuple[Asset, Tree, Tree]]:
    root = manifest.root
    return [
        (
            asset,
            scan_tree(root / asset.path, manifest.rules_for(asset)),
            scan_tree(root / manifest.saved_path(asset), manifest.rules_for(asset)),
        )
        for asset in manifest.assets
    ]


def _require_snapshot(manifest: Manifest) -> None:
    snapshot = manifest.root / manifest.snapshot
    if not snapshot.is_dir():
        raise PlanError(
            f"The snapshot folder {manifest.snapshot}/ does not exist: run `oppdemo save` "
            "to create it, or set [tool.oppdemo].snapshot."
        )


def _stale(tree: Tree, base: str) -> list[str]:
    return [join(base, key) for key in tree.temporaries]


def _store(manifest: Manifest, backups_folder: str | None = None) -> BackupStore:
    from oppdemo.assets.backups import BackupStore

    folder = manifest.backups
    if backups_folder is not None:
        folder = relative_path(backups_folder, "--backups")
    return BackupStore(manifest.root, manifest.root / folder)
