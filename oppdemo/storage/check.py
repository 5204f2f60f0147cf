"""`storage check`: the doctor. Each step of using the storage, tried for real, timed.

For S3: settings, endpoint, credentials, bucket, a probe object written, read back, listed and
deleted (always cleaned up), and the probe's URL fetched over HTTP, which is where a private
bucket without `S3_CDN_URL` or `S3_PRESIGN` fails. For the filesystem: the folder is writable
and, given the address of the running app, the app serves the probe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

PROBE_FOLDER = "oppdemo-check"
# Where browsers put direct uploads before the app confirms them.
INCOMING_FOLDER = "incoming"
# Every network step of the doctor is bounded, so a server that never answers costs seconds.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 8.0


@dataclass
class CheckStep:
    name: str
    ok: bool | None = None  # None: not run, because an earlier step failed
    seconds: float = 0.0
    detail: str = ""


@dataclass
class CheckReport:
    backend: str = ""
    steps: list[CheckStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No step failed (a step not run for want of --base-url is not a failure)."""
        return all(step.ok is not False for step in self.steps)

    @property
    def failed(self) -> list[str]:
        """The names of the steps that failed, in the order they ran."""
        return [step.name for step in self.steps if step.ok is False]

    def to_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "ok": self.ok,
            "failed": self.failed,
            "steps": [dataclasses.asdict(step) for step in self.steps],
        }


class _Stop(Exception):
    """A step failed in a way that makes the later ones meaningless."""


class _NotRun(Exception):
    """A step that cannot run with what was given (not a failure)."""


def check_storage(
    package: ModuleType,
    env: Mapping[str, str],
    base_url: str | None = None,
    on_step: Callable[[CheckStep], None] | None = None,
    origin: str | None = None,
) -> CheckReport:
    """Run every step for the backend `env` selects; a failure is reported, never raised.

    `package` is the project's own storage package, loaded by the caller. One like this
    project's (with `config.read_settings`) gets every step; one with only `get_storage()` and
    the seven methods (FastOpp's) gets the settings, endpoint, probe and URL steps.
    """
    from oppdemo.errors import OppdemoError
    from oppdemo.storage import access

    class _NoSuchSettings: ...  # a package without our settings classes: nothing is one

    config: Any = None
    FilesystemSettings: Any = _NoSuchSettings
    S3Settings: Any = _NoSuchSettings
    read_settings: Any = None
    try:
        config = importlib.import_module(f"{package.__name__}.config")
        read_settings = config.read_settings
        FilesystemSettings, S3Settings = config.FilesystemSettings, config.S3Settings
    except (ImportError, AttributeError):
        config = None
    report = CheckReport()
    storage_errors: tuple[type[BaseException], ...] = (
        *access.storage_errors(package),
        OppdemoError,
    )
    foreign_s3 = config is None and env.get("STORAGE_TYPE", "").strip().lower() == "s3"
    # The fixes that name a setting are offered only when the storage in use reads it.
    reads = _settings_read(package, config)

    def step(name: str, action: Callable[[], str]) -> None:
        started = time.perf_counter()
        entry = CheckStep(name)
        try:
            entry.detail = action() or ""
            entry.ok = True
        except _NotRun as reason:
            entry.detail = str(reason)
        except _Stop as stop:
            entry.ok, entry.detail = False, str(stop)
        except storage_errors as error:
            entry.ok, entry.detail = False, _with_fix(name, error, package, env)
        except ImportError as error:
            entry.ok, entry.detail = False, str(access._missing(error, package))
        entry.seconds = time.perf_counter() - started
        report.steps.append(entry)
        if on_step is not None:
            on_step(entry)
        if entry.ok is False:
            raise _Stop(name)

    def skipped(*names: str) -> None:
        for name in names:
            entry = CheckStep(name, None, 0.0, "not run: an earlier step failed")
            report.steps.append(entry)
            if on_step is not None:
                on_step(entry)

    settings: Any = None
    storage: Any = None

    def valid_settings() -> str:
        nonlocal settings, storage
        if config is None:
            storage = access.open_storage(package, env)
            settings = _s3_view(env) if foreign_s3 else None
            report.backend = storage.describe()
            return str(report.backend)
        settings = read_settings(env)
        if isinstance(settings, S3Settings):
            # One attempt, short timeouts: the doctor reports, it does not wait out retries.
            settings = dataclasses.replace(
                settings,
                connect_timeout=min(settings.connect_timeout, CONNECT_TIMEOUT),
                read_timeout=min(settings.read_timeout, READ_TIMEOUT),
                max_attempts=1,
            )
            storage = package.S3Storage(settings)
        else:
            storage = package.get_storage(env)
        report.backend = storage.describe()
        return str(report.backend)

    probe_steps = ["probe written", "probe read back", "probe listed", "probe deleted"]
    # A folder storage makes its folder when it opens: the check removes it again (if still
    # empty) when it was not there before, as the folders above it that it made.
    upload_dir = Path(env.get("UPLOAD_DIR", "").strip() or "static/uploads")
    made = [folder for folder in (upload_dir, *upload_dir.parents) if not folder.exists()]
    try:
        step("settings valid", valid_settings)
    except _Stop:
        skipped("storage reachable", *probe_steps, "URL serves the probe")
        return report
    # The check leaves nothing behind: not even the folder its probe went into.
    probe_folder = _local_probe_folder(storage)
    folder_existed = probe_folder is None or probe_folder.exists()

    def tidied() -> CheckReport:
        """The report, once the probe's folder is gone if the check made it (only if empty:
        never what someone else put there)."""
        if not folder_existed and probe_folder is not None:
            with contextlib.suppress(OSError):
                probe_folder.rmdir()
        if probe_folder is not None and probe_folder.parent.resolve() == upload_dir.resolve():
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    break
        return report

    try:
        if foreign_s3:
            step("endpoint reachable", lambda: _reach(settings))
        elif isinstance(settings, S3Settings):
            # The endpoint the storage uses: botocore may take it from the AWS config file.
            used = getattr(storage, "endpoint_url", settings.endpoint_url)
            step(
                "endpoint reachable",
                lambda: _reach(dataclasses.replace(settings, endpoint_url=used)),
            )
            step("credentials accepted", lambda: _credentials(storage, package))
            step("bucket exists", lambda: _bucket(storage))
        elif config is None or isinstance(settings, FilesystemSettings):
            step("folder writable", lambda: _folder(storage))
    except _Stop:
        done = {entry.name for entry in report.steps}
        skipped(*[n for n in ("credentials accepted", "bucket exists") if n not in done])
        skipped(*probe_steps, "URL serves the probe")
        return tidied()

    key = f"{PROBE_FOLDER}/probe-{uuid.uuid4().hex}.txt"
    content = f"oppdemo storage check {uuid.uuid4()}\n".encode()
    written = False
    try:

        def write() -> str:
            nonlocal written
            storage.save_file(content, key, "text/plain")
            written = True
            return key

        def read_back() -> str:
            if storage.get_file(key) != content:
                raise _Stop("the bytes read back differ from those written")
            return f"{len(content)} bytes, identical"

        def listed() -> str:
            if key not in storage.list_files(f"{PROBE_FOLDER}/"):
                raise _Stop(f"{key} is missing from the listing")
            return ""

        step("probe written", write)
        step("probe read back", read_back)
        step("probe listed", listed)
        url = storage.get_file_url(key)
        s3 = settings if foreign_s3 or isinstance(settings, S3Settings) else None
        step("URL serves the probe", lambda: _serve(url, content, s3, base_url, reads))
    except _Stop:
        done = {entry.name for entry in report.steps}
        skipped(*[n for n in ["probe read back", "probe listed", "URL serves the probe"]
                  if n not in done])  # fmt: skip
    finally:
        # Always clean up, even when a later step failed.
        if written:
            with contextlib.suppress(_Stop):
                step("probe deleted", lambda: _delete(storage, key))
        elif "probe deleted" not in {entry.name for entry in report.steps}:
            skipped("probe deleted")
    # Independent of how the URL is served: run wherever the storage itself worked.
    if not any(e.ok is False for e in report.steps if e.name != "URL serves the probe"):
        with contextlib.suppress(_Stop):
            step("nothing left behind", lambda: _leftovers(storage))
    if origin is not None:
        # CORS and incoming/ do not depend on how photos are served: checked wherever the
        # storage itself worked, so the summary names each problem, not only the first.
        serving = ("URL serves the probe", "nothing left behind")
        if any(e.ok is False for e in report.steps if e.name not in serving):
            skipped(*DIRECT_STEPS)
        else:
            _direct_upload_steps(storage, origin, step)
    return tidied()


def _leftovers(storage: Any) -> str:
    """What killed runs left: temporary files in a local folder (served by the app), open
    multipart uploads in a bucket (billed by AWS), with how to remove them."""
    from oppdemo.cli.plain import shown
    from oppdemo.storage import leftovers

    found = leftovers.find(storage)
    if not found:
        return ""
    parts = []
    if found.files:
        size = sum(size for _, size in found.files)
        names = ", ".join(shown(path) for path, _ in found.files[:3])
        parts.append(
            f"{len(found.files)} temporary file(s) of a killed write ({size} bytes: {names}"
            f"{', …' if len(found.files) > 3 else ''})"
        )
    if found.uploads:
        names = ", ".join(shown(key) for key, _ in found.uploads[:3])
        parts.append(
            f"{len(found.uploads)} open multipart upload(s) ({names}"
            f"{', …' if len(found.uploads) > 3 else ''})"
        )
    raise _Stop(
        f"{' and '.join(parts)}: `oppdemo storage clean-leftovers` removes them "
        "(a run of migrate or put removes those of the keys it writes)."
    )


DIRECT_STEPS = ("CORS allows uploads", "incoming/ is private")


def normal_origin(origin: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin` (lower case, no default
    port); OppdemoError for anything else (a path, a trailing slash or a missing scheme would
    make a CORS rule that never matches)."""
    from oppdemo.errors import OppdemoError

    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or port == -1
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise OppdemoError(
            f"--origin {origin!r} is not an origin: give the page's scheme, host and port "
            "only, as the browser's address bar shows them, such as https://app.example.com."
        )
    scheme = parts.scheme.lower()
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    shown_port = "" if port in (None, {"http": 80, "https": 443}[scheme]) else f":{port}"
    return f"{scheme}://{host.lower()}{shown_port}"


def _direct_upload_steps(storage: Any, origin: str, step: Callable[..., None]) -> None:
    """For uploads straight from browsers on `origin`: the bucket's CORS answers their
    preflight, and what they leave in incoming/ is not public."""
    sign = getattr(storage, "presigned_post", None)
    if not callable(sign):
        step("CORS allows uploads", lambda: _not_run("direct uploads need this project's S3"))
        return
    with contextlib.suppress(_Stop):
        step("CORS allows uploads", lambda: _preflight(storage, sign, origin))
    with contextlib.suppress(_Stop):
        step("incoming/ is private", lambda: _incoming_private(storage))


def _not_run(reason: str) -> str:
    raise _NotRun(f"not run: {reason}")


def _preflight(storage: Any, sign: Callable[..., Any], origin: str) -> str:
    """The OPTIONS request a browser sends before posting a file, sent where the app's
    presigned POST goes (not where photos are served from: a CDN, another host name)."""
    import urllib.error
    import urllib.request

    url = sign(f"{INCOMING_FOLDER}/oppdemo-check", "image/jpeg", 1, 60)["url"]
    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    allowed: str | None = None
    try:
        with urllib.request.urlopen(request, timeout=READ_TIMEOUT) as answer:
            allowed = answer.headers.get("Access-Control-Allow-Origin")
            methods = answer.headers.get("Access-Control-Allow-Methods", "")
    except urllib.error.HTTPError:
        methods = ""
    except (urllib.error.URLError, OSError) as error:
        raise _Stop(f"{_shown(url)} did not answer ({type(error).__name__}).") from None
    if allowed in (origin, "*") and "POST" in methods.upper():
        return f"{origin} may POST to {_shown(url)}"
    raise _Stop(
        f"the bucket refuses browsers on {origin} at {_shown(url)}: {_cors_fix(storage, origin)}"
    )


def _cors_fix(storage: Any, origin: str) -> str:
    """The put-bucket-cors command that adds the demo's rule to the bucket's own rules, read
    first: that command replaces the whole configuration, so a rule not listed is lost."""
    import shlex

    bucket = getattr(getattr(storage, "settings", None), "bucket", "<bucket>")
    rules, problem = cors_rules(storage)
    needed = cors_rule(origin)
    providers = (
        "On MinIO use `mc cors set`, on LeapCell the bucket's CORS settings, with the same "
        "rule; on AWS apply"
    )
    if rules is None:
        # Printing a whole configuration would drop the rules that could not be read.
        return (
            f"no CORS rule allows POST from it, and its CORS rules could not be read "
            f"({problem}), so add this rule to them (put-bucket-cors replaces them all). "
            f"{providers} it with the others: {json.dumps(needed)}"
        )
    if needed in rules:
        return (
            f"a rule allowing POST from {origin} is there, yet the preflight was refused: "
            "a rule above it may match first, or the server applies CORS settings of its own "
            "(see its console)."
        )
    merged = {"CORSRules": [*rules, needed]}
    kept = f"it keeps the {len(rules)} rule(s) there" if rules else "the bucket has no rules yet"
    return (
        f"no CORS rule allows POST from it. {providers} ({kept}): aws s3api put-bucket-cors "
        f"--bucket {shlex.quote(bucket)} --cors-configuration {shlex.quote(json.dumps(merged))}"
    )


def cors_rules(storage: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """The bucket's CORS rules ([] when it has none), or None and why they could not be read."""
    # The storage's own client: same endpoint, keys and the doctor's short timeouts.
    client = getattr(storage, "_client", None)
    if client is None:
        return None, "this storage has no S3 client to ask"
    try:
        answer = client.get_bucket_cors(Bucket=storage.settings.bucket)
    except Exception as error:  # botocore's errors: the SDK is only imported with S3
        details = getattr(error, "response", {}).get("Error", {})
        code = str(details.get("Code", "")) or type(error).__name__
        if code == "NoSuchCORSConfiguration":
            return [], ""
        return None, code
    return list(answer.get("CORSRules") or []), ""


def cors_rule(origin: str) -> dict[str, Any]:
    """The CORS rule that lets the demo's page on `origin` post files to the bucket."""
    return {
        "AllowedOrigins": [origin],
        "AllowedMethods": ["POST"],
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 3600,
    }


def cors_configuration(origin: str) -> dict[str, object]:
    """A CORS configuration of that rule alone (for a bucket that has none)."""
    return {"CORSRules": [cors_rule(origin)]}


def _incoming_private(storage: Any) -> str:
    """A probe under incoming/ must not be readable by anyone at its plain bucket URL."""
    import urllib.error
    import urllib.request

    key = f"{INCOMING_FOLDER}/oppdemo-check-{uuid.uuid4().hex}"
    storage.save_file(b"private probe", key, "text/plain")
    try:
        url = storage.plain_url(key)
        try:
            with urllib.request.urlopen(url, timeout=READ_TIMEOUT) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError) as error:
            raise _Stop(f"{_shown(url)} did not answer ({type(error).__name__}).") from None
    finally:
        storage.delete_file(key)
    if status in (401, 403, 404):
        return f"HTTP {status} for anyone"
    raise _Stop(
        f"{INCOMING_FOLDER}/ objects are public (HTTP {status}): unconfirmed uploads must not "
        "be served; let the bucket policy allow public reads of the served folders only: "
        + json.dumps(
            public_read_policy(storage.settings.bucket, storage.settings.prefix, SERVED_FOLDERS)
        )
    )


def _reach(settings: Any) -> str:
    if settings.endpoint_url:
        parts = urlsplit(settings.endpoint_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
    else:
        host, port = f"s3.{settings.region}.amazonaws.com", 443
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _Stop(
            f"cannot connect to {host}:{port} ({reason}): check S3_ENDPOINT_URL "
            "(or S3_REGION) and that the server is running."
        ) from None
    return f"{host}:{port}"


def _credentials(storage: Any, package: ModuleType) -> str:
    try:
        next(iter(storage.iter_files(f"{PROBE_FOLDER}/")), None)
    except package.StorageAccessError as error:
        if getattr(error, "code", "") in ("AccessDenied", "403", "Forbidden"):
            return "accepted (but this key may not list the bucket)"
        raise
    except package.StorageConfigError:
        return ""  # the bucket is missing: the next step says so; the keys were accepted
    return ""


def _bucket(storage: Any) -> str:
    # A HEAD of a key that is not there: S3 then asks whether the bucket itself exists.
    storage.file_exists(f"{PROBE_FOLDER}/absent-{uuid.uuid4().hex}")
    return str(storage.settings.bucket)


def _folder(storage: Any) -> str:
    storage.ensure_directories(PROBE_FOLDER)
    inner = getattr(storage, "storage", storage)  # a seven-method storage, wrapped
    return str(getattr(inner, "base_dir", None) or getattr(inner, "base_path", ""))


def _local_probe_folder(storage: Any) -> Path | None:
    """The folder a local storage keeps the probe in (None for a bucket)."""
    inner = getattr(storage, "storage", storage)  # a seven-method storage, wrapped
    base = getattr(inner, "base_dir", None) or getattr(inner, "base_path", None)
    if not isinstance(base, str | os.PathLike):
        return None
    return Path(base) / PROBE_FOLDER


def _s3_view(env: Mapping[str, str]) -> Any:
    """What the doctor needs of S3 settings, read from the variables of the storage post."""
    from types import SimpleNamespace

    def value(name: str) -> str | None:
        return env.get(name, "").strip() or None

    prefix = (value("S3_PREFIX") or "").strip("/")
    return SimpleNamespace(
        bucket=value("S3_BUCKET") or "",
        prefix=f"{prefix}/" if prefix else "",
        endpoint_url=value("S3_ENDPOINT_URL"),
        region=value("S3_REGION") or "us-east-1",
        cdn_url=(value("S3_CDN_URL") or "").rstrip("/") or None,
    )


def _delete(storage: Any, key: str) -> str:
    if not storage.delete_file(key):
        raise _Stop(f"{key} was already gone")
    return ""


def _serve(url: str, content: bytes, s3: Any, base_url: str | None, reads: frozenset[str]) -> str:
    """Fetch the probe's URL; `s3` is the S3 settings (None for a folder)."""
    if not url.startswith(("http://", "https://")):
        if not base_url:
            raise _NotRun(
                f"not run: the URL {url} is relative to the app; pass --base-url "
                "http://host:port to check that the running app serves it."
            )
        url = base_url.rstrip("/") + url
    import urllib.error
    import urllib.request

    # The standard library, not urllib3: a tool-only install of oppdemo has no botocore.
    try:
        with urllib.request.urlopen(url, timeout=READ_TIMEOUT) as answer:
            status, data = answer.status, answer.read(len(content) + 1)
    except urllib.error.HTTPError as error:
        status, data = error.code, b""
    except (urllib.error.URLError, OSError) as error:
        raise _Stop(f"{_shown(url)} did not answer ({type(error).__name__}).") from None
    if status == 200 and data == content:
        return _shown(url)
    if status == 200:
        raise _Stop(f"{_shown(url)} answered with other bytes than the probe's.")
    problem = f"{_shown(url)} answered HTTP {status}"
    if s3 is not None and status in (401, 403):
        raise _Stop(f"{problem}: the bucket is private. {_public_fixes(s3, reads)}")
    if s3 is not None:
        fixes = [
            *(["check S3_CDN_URL"] if "S3_CDN_URL" in reads else []),
            *(["set S3_PRESIGN=true"] if "S3_PRESIGN" in reads else []),
            "check that S3_ENDPOINT_URL and S3_BUCKET name the bucket that the URL serves",
        ]
        raise _Stop(f"{problem}: {', or '.join(fixes)}.")
    raise _Stop(f"{problem}: the app must serve UPLOAD_DIR at UPLOAD_URL (a StaticFiles mount).")


def public_read_policy(
    bucket: str, prefix: str = "", only: tuple[str, ...] = ()
) -> dict[str, object]:
    """The bucket policy that lets anyone read the objects under `prefix` (what `check` shows);
    with `only`, just those folders of it (an Allow, never a Deny: a Deny for everyone would
    lock out the app's own keys too)."""
    folders = only or ("",)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}{folder}*" for folder in folders],
            }
        ],
    }


# What the upload demo serves when browsers upload directly: never incoming/.
SERVED_FOLDERS = ("uploads/", "thumbs/", "sample_photos/", f"{PROBE_FOLDER}/")


def _public_fixes(settings: Any, reads: frozenset[str]) -> str:
    policy = public_read_policy(settings.bucket, settings.prefix)
    presign = "S3_PRESIGN" in reads
    if settings.cdn_url:
        return (
            f"S3_CDN_URL is set, so the CDN at {settings.cdn_url} must be allowed to read the "
            "bucket" + ("; or set S3_PRESIGN=true and unset S3_CDN_URL." if presign else ".")
        )
    fixes = [
        *(["set S3_CDN_URL to a public address that serves the bucket"]
          if "S3_CDN_URL" in reads else []),
        f"allow public reads with this bucket policy: {json.dumps(policy)}",
        *(["set S3_PRESIGN=true to hand out signed URLs"] if presign else []),
    ]  # fmt: skip
    if len(fixes) == 1:
        return f"Fix: {fixes[0]}."
    return f"Fix one of: {'; '.join(fixes[:-1])}; or {fixes[-1]}."


_VERBS = {
    "probe written": "write",
    "probe read back": "read",
    "probe listed": "list",
    "probe deleted": "delete",
}


def _with_fix(name: str, error: BaseException, package: ModuleType, env: Mapping[str, str]) -> str:
    """A failed step's line: the error, and what to do about it. This project's errors name
    their fix; another package's (FastOpp's RuntimeError with botocore's words) get one."""
    from oppdemo.errors import OppdemoError

    text = str(error) or type(error).__name__
    own = getattr(package, "StorageError", None)
    if isinstance(error, OppdemoError) or (isinstance(own, type) and isinstance(error, own)):
        return text
    bucket = env.get("S3_BUCKET", "").strip()
    if "NoSuchBucket" in text:
        return f"the bucket {bucket!r} does not exist: create it, or correct S3_BUCKET."
    if "InvalidAccessKeyId" in text or "SignatureDoesNotMatch" in text:
        return "the storage refused the keys: check S3_ACCESS_KEY and S3_SECRET_KEY."
    verb = _VERBS.get(name, "use")
    if "AccessDenied" in text or "Forbidden" in text:
        return (
            f"these keys may not {verb} objects in bucket {bucket!r}: allow it in the keys' "
            "policy, or use keys that may."
        )
    if isinstance(error, PermissionError):
        return (
            f"oppdemo may not {verb} {error.filename or 'files'} here: make UPLOAD_DIR "
            "writable by this user, or set UPLOAD_DIR to a folder that is."
        )
    return (
        f"{text.rstrip('.')}: fix what this names in the storage's settings (STORAGE_TYPE, "
        "UPLOAD_DIR, S3_...), then run `oppdemo storage check` again."
    )


def _settings_read(package: ModuleType, config: Any) -> frozenset[str]:
    """The optional S3 settings the storage package reads: this project's settings classes
    read them all; another package (FastOpp's) those its code names."""
    optional = ("S3_CDN_URL", "S3_PRESIGN")
    if config is not None:
        fields = {item.name for item in dataclasses.fields(config.S3Settings)}
        return frozenset(name for name in optional if name[3:].lower() in fields)
    text = ""
    for folder in getattr(package, "__path__", []):
        for path in sorted(Path(folder).rglob("*.py")):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                text += path.read_text(encoding="utf-8")
    return frozenset(name for name in optional if name in text)


def _shown(url: str) -> str:
    """A URL fit to print: a presigned URL's signature is a credential, so it is cut off."""
    return url.split("?", 1)[0] + ("?…" if "?" in url else "")
