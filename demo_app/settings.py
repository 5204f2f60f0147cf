"""The upload demo's own settings, read once from the environment (and `.env`)."""

from __future__ import annotations

import functools
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

# An upload may be at most this many megabytes, and at least this many (below, nothing fits).
MAX_MB_RANGE = (0.1, 1024.0)
# A phone's full-size JPEG: the pipeline decodes up to 40 megapixels, and a 40 MP JPEG at a
# camera's quality is under 20 MB (a 12 to 24 MP one, 3 to 12 MB); 25 leaves room.
DEFAULT_UPLOAD_MB = "25"
# Through the app, a request carries ten photos at most, and never more than 101 MB (ten
# photos at the old 10 MB default): a body the server spools to disk before checking it.
REQUEST_CAP_BYTES = 101 * 1024 * 1024


# example.env's stand-ins: uncommented as they stand, a password and a key every reader knows.
_PLACEHOLDERS = {
    "DEMO_PASSWORD": "a-long-random-password",
    "DEMO_SECRET_KEY": "output-of-python-c-import-secrets-print-secrets-token-hex-32",
}


class DemoSettingsError(ValueError):
    """A demo setting is missing or invalid; the message names it and the fix."""


@dataclass(frozen=True)
class DemoSettings:
    """`DEMO_PASSWORD` lets an operator sign in; `DEMO_SECRET_KEY` signs sessions (shared by
    every instance that has it); `open_access` lets anyone change things (`serve --open`)."""

    max_upload_bytes: int = int(DEFAULT_UPLOAD_MB) * 1024 * 1024
    password: str | None = field(default=None, repr=False)
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    allowed_hosts: tuple[str, ...] = ()
    open_access: bool = False
    # On S3, browsers send photos straight to the bucket (presigned POST) unless this is off.
    direct_uploads: bool = True
    # The largest request body the app takes (REQUEST_MAX_MB; default: ten photos' worth, at
    # most 101 MB): the through-app path's own cap, set under a serverless platform's.
    request_max_bytes: int | None = None
    # The one-time sign-in link's token (DEMO_SIGNIN_TOKEN, which `serve` sets when there is
    # no DEMO_PASSWORD): good once, for the browser that opens the link it prints.
    signin_token: str | None = field(default=None, repr=False)
    # How long a page waits for the storage (DEMO_STORAGE_TIMEOUT): under a proxy's timeout
    # (nginx: 60 s), so a hung bucket gives a page that says so, never a 504.
    storage_timeout: float = 10.0

    @property
    def request_limit(self) -> int:
        default = min(10 * self.max_upload_bytes + 1024 * 1024, REQUEST_CAP_BYTES)
        return self.request_max_bytes or default


def read_settings(env: Mapping[str, str] | None = None) -> DemoSettings:
    """The demo's settings from `env` (the environment over `.env` by default)."""
    if env is None:
        env = _environment()
    for name, placeholder in _PLACEHOLDERS.items():
        if env.get(name, "").strip() == placeholder:
            raise DemoSettingsError(
                f"{name} is example.env's placeholder, which anyone can read: set it to a long "
                'random value (python -c "import secrets; print(secrets.token_urlsafe(24))").'
            )
    password = env.get("DEMO_PASSWORD", "") or None
    secret = env.get("DEMO_SECRET_KEY", "")
    if secret and len(secret) < 16:
        raise DemoSettingsError(
            "DEMO_SECRET_KEY is too short to sign sessions: use at least 16 random characters "
            '(python -c "import secrets; print(secrets.token_hex(32))").'
        )
    token = env.get("DEMO_SIGNIN_TOKEN", "").strip()
    if token and len(token) < 32:
        # Wrong links sent by other sites' pages are not counted: the length is the guard.
        raise DemoSettingsError(
            "DEMO_SIGNIN_TOKEN is too short to be a sign-in link's secret: leave it unset "
            "(`oppdemo serve` makes one) or use at least 32 random characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )
    hosts = tuple(h.strip().lower() for h in env.get("ALLOWED_HOSTS", "").split(",") if h.strip())
    return DemoSettings(
        max_upload_bytes=max_upload_bytes(env),
        password=password,
        secret_key=secret or (_key_from_password(password) if password else secrets.token_hex(32)),
        allowed_hosts=hosts,
        open_access=env.get("DEMO_OPEN", "").strip().lower() in ("1", "true", "yes"),
        direct_uploads=_flag(env, "S3_DIRECT_UPLOADS", True),
        request_max_bytes=_megabytes(env, "REQUEST_MAX_MB") if env.get("REQUEST_MAX_MB") else None,
        # With a password, everyone signs in with it: no link is printed, none is accepted.
        signin_token=None if password else token or None,
        storage_timeout=_seconds(env, "DEMO_STORAGE_TIMEOUT", 10.0),
    )


@functools.lru_cache(maxsize=4)
def _key_from_password(password: str) -> str:
    """The session key when DEMO_SECRET_KEY is not set, the same in every worker (`uvicorn
    --workers N`) and instance with this password: a made-up key would differ in each, and
    each would refuse the others' sessions. scrypt makes a stolen cookie a slow way to guess
    the password."""
    import hashlib

    derived = hashlib.scrypt(
        password.encode(), salt=b"oppdemo session key", n=2**14, r=8, p=1, dklen=32
    )
    return derived.hex()


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.5 <= value <= 50):
        raise DemoSettingsError(
            f"{name}={raw!r} is not valid: set it to a number of seconds from 0.5 to 50 "
            "(under the proxy's own timeout)."
        )
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise DemoSettingsError(f"{name}={raw!r} is not valid: set it to true or false.")


def max_upload_bytes(env: Mapping[str, str]) -> int:
    """`UPLOAD_MAX_MB` (default 25) in bytes: a finite number from 0.1 to 1024."""
    return _megabytes(env, "UPLOAD_MAX_MB", DEFAULT_UPLOAD_MB)


def _megabytes(env: Mapping[str, str], name: str, default: str = "") -> int:
    raw = env.get(name, "").strip() or default
    low, high = MAX_MB_RANGE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise DemoSettingsError(
            f"{name}={raw!r} is not valid: set it to a number of megabytes from "
            f"{low:g} to {high:g}."
        )
    return int(value * 1024 * 1024)


def _environment() -> dict[str, str]:
    merged: dict[str, str] = {}
    if os.path.isfile(".env"):
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
    merged.update(os.environ)
    return merged
