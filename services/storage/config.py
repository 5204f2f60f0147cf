"""Read storage settings from environment variables into small frozen dataclasses.

This is the only module that knows the variable names; it rejects unknown values and names
every missing one, so a typo never falls back silently to another backend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import StorageConfigError
from .keys import clean_key

STORAGE_TYPES = ("filesystem", "s3", "memory")
RETRY_MODES = ("standard", "adaptive", "legacy")
ADDRESSING_STYLES = ("auto", "path", "virtual")
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_ATTEMPTS = 2
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

T = TypeVar("T")


@dataclass(frozen=True)
class FilesystemSettings:
    upload_dir: str = "static/uploads"
    upload_url: str = "/static/uploads"


@dataclass(frozen=True)
class MemorySettings:
    upload_url: str = "/memory"


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    endpoint_url: str | None = None
    cdn_url: str | None = None
    prefix: str = ""
    presign: bool = False
    presign_expires: int = 3600
    addressing_style: str = "auto"
    # A server that never answers is reported within 30 s: at most 2 attempts of 5 s to
    # connect and 10 s to wait for a reply, with botocore's back-off (under 1 s) between.
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    max_attempts: int = MAX_ATTEMPTS
    retry_mode: str = "standard"
    multipart_threshold: int = 8 * 1024 * 1024

    @property
    def shown_endpoint(self) -> str | None:
        """The endpoint without any `user:password@`, for messages and public URLs."""
        return without_userinfo(self.endpoint_url) if self.endpoint_url else None


Settings = FilesystemSettings | S3Settings | MemorySettings


def read_settings(env: Mapping[str, str]) -> Settings:
    """Build the settings for the backend that `STORAGE_TYPE` names."""
    storage_type = env.get("STORAGE_TYPE", "").strip().lower() or "filesystem"
    if storage_type not in STORAGE_TYPES:
        raise StorageConfigError(
            f"STORAGE_TYPE={env['STORAGE_TYPE']!r} is not a storage type: "
            f"set it to one of {', '.join(STORAGE_TYPES)}."
        )
    if storage_type == "s3":
        return _read_s3_settings(env)
    if storage_type == "memory":
        return MemorySettings(upload_url=env.get("UPLOAD_URL") or MemorySettings.upload_url)
    return FilesystemSettings(
        upload_dir=env.get("UPLOAD_DIR") or FilesystemSettings.upload_dir,
        upload_url=env.get("UPLOAD_URL") or FilesystemSettings.upload_url,
    )


def _read_s3_settings(env: Mapping[str, str]) -> S3Settings:
    required = ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET")
    missing = [name for name in required if not env.get(name, "").strip()]
    if missing:
        raise StorageConfigError(
            f"STORAGE_TYPE=s3 needs {', '.join(missing)}: set "
            f"{'it' if len(missing) == 1 else 'them'} in the environment or in .env "
            "(see example.env)."
        )
    endpoint_url = _optional(env, "S3_ENDPOINT_URL")
    if endpoint_url and not _is_http_url(endpoint_url):
        raise StorageConfigError(
            f"S3_ENDPOINT_URL={without_userinfo(endpoint_url)!r} is not a URL: write it with "
            "its scheme, such as https://objstorage.example.com or http://127.0.0.1:9000."
        )
    prefix = env.get("S3_PREFIX", "").strip().strip("/")
    if prefix:
        clean_key(prefix)
    return S3Settings(
        bucket=env["S3_BUCKET"].strip(),
        access_key=env["S3_ACCESS_KEY"].strip(),
        secret_key=env["S3_SECRET_KEY"].strip(),
        region=_optional(env, "S3_REGION") or "us-east-1",
        endpoint_url=endpoint_url.rstrip("/") if endpoint_url else None,
        cdn_url=(_optional(env, "S3_CDN_URL") or "").rstrip("/") or None,
        prefix=f"{prefix}/" if prefix else "",
        presign=_parse(env, "S3_PRESIGN", _boolean, False, "true or false"),
        presign_expires=_parse(env, "S3_PRESIGN_EXPIRES", _positive_int, 3600, "seconds > 0"),
        addressing_style=_choice(env, "S3_ADDRESSING_STYLE", ADDRESSING_STYLES, "auto"),
        connect_timeout=_parse(
            env, "S3_CONNECT_TIMEOUT", _positive_float, CONNECT_TIMEOUT, "seconds > 0"
        ),
        read_timeout=_parse(env, "S3_READ_TIMEOUT", _positive_float, READ_TIMEOUT, "seconds > 0"),
        max_attempts=_parse(
            env, "S3_MAX_ATTEMPTS", _positive_int, MAX_ATTEMPTS, "a whole number > 0"
        ),
        retry_mode=_choice(env, "S3_RETRY_MODE", RETRY_MODES, "standard"),
        multipart_threshold=_parse(
            env, "S3_MULTIPART_THRESHOLD_MB", _positive_int, 8, "whole megabytes > 0"
        )
        * 1024
        * 1024,
    )


def _is_http_url(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def without_userinfo(url: str) -> str:
    """`url` with any `user:password@` removed: credentials are never printed or served."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _parse(
    env: Mapping[str, str], name: str, convert: Callable[[str], T], default: T, expected: str
) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return convert(raw)
    except ValueError:
        raise StorageConfigError(f"{name}={raw!r} is not valid: use {expected}.") from None


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in allowed:
        raise StorageConfigError(f"{name}={raw!r} is not valid: use one of {', '.join(allowed)}.")
    return raw


def _boolean(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError(raw)


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not 0 < value < float("inf"):  # also refuses nan: a wait must end
        raise ValueError(raw)
    return value
