"""The tool's own exceptions and its named exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it; SIGTERM gives 143


class OppdemoError(Exception):
    """An expected failure: the CLI prints the message (which names the fix) and exits 2."""

    exit_code = EXIT_ERROR


class ManifestError(OppdemoError):
    """`[tool.oppdemo]` in pyproject.toml is missing, unreadable or invalid."""


class PlanError(OppdemoError):
    """A command cannot run as asked; nothing has been changed."""


class LockedError(OppdemoError):
    """Another oppdemo process is changing files in this project."""


class BackupError(OppdemoError):
    """A backup is missing or unreadable."""


class DamagedBackupError(BackupError):
    """A backup folder of oppdemo's whose record cannot be read."""

    def __init__(self, record_id: str, problem: str) -> None:
        super().__init__(
            f"Backup {record_id} is damaged: {problem}. Undo another backup by its id "
            "(`oppdemo backups` lists them), or remove the damaged folder."
        )
        self.problem = problem
