"""Download one image over HTTP with timeouts, retries and checks on what comes back.

urllib3 does the HTTP: a `PoolManager` keeps one pool of kept-alive connections per host (one
TLS handshake per connection, not per photo), and its `Retry` policy retries connection
errors, timeouts, 429 and 5xx answers with exponential backoff, honouring `Retry-After`.
"""

from __future__ import annotations

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from .photo_catalog import image_type

USER_AGENT = "oppdemo-sample-photos/1.0"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHUNK = 64 * 1024
_MAX_RETRY_AFTER = 10.0
_DRAIN_LIMIT = 256 * 1024


class DownloadFailed(Exception):
    """The photo could not be fetched or is not an acceptable image; the reason says why."""


class _CappedRetry(urllib3.Retry):
    """urllib3's policy, with a server's `Retry-After` capped so it cannot stall the run."""

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        asked = super().get_retry_after(response)
        return None if asked is None else min(asked, _MAX_RETRY_AFTER)


def http_pool(concurrency: int = 4) -> urllib3.PoolManager:
    """A pool shared by the downloads: up to `concurrency` kept-alive connections per host."""
    return urllib3.PoolManager(
        num_pools=16, maxsize=concurrency, headers={"User-Agent": USER_AGENT, "Accept": "image/*"}
    )


def retry_policy(attempts: int, backoff: float) -> urllib3.Retry:
    """`attempts` tries in all of connection errors, timeouts, 429 and 5xx; 4xx fail at once."""
    retries = attempts - 1
    return _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=5,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_jitter=backoff / 5,
        backoff_max=_MAX_RETRY_AFTER,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last answer comes back, so its status names the failure
    )


def fetch_image(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    attempts: int = 3,
    backoff: float = 0.5,
    pool: urllib3.PoolManager | None = None,
) -> tuple[bytes, str]:
    """Return the image at `url` and its MIME type, or raise `DownloadFailed`.

    Connection errors, timeouts, 429 and 5xx answers are tried again, up to `attempts` times in
    all, waiting `backoff` seconds and then twice as long each time (or what `Retry-After`
    asks, up to 10 s). `timeout` bounds the connection and every read of the body.
    """
    pool = pool or http_pool()
    gave_up = f"(gave up after {attempts} tries)"
    try:
        response = pool.request(
            "GET",
            url,
            retries=retry_policy(attempts, backoff),
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            preload_content=False,
        )
    except MaxRetryError as error:
        raise DownloadFailed(f"{_describe(error.reason, timeout)} {gave_up}") from None
    except urllib3.exceptions.HTTPError as error:
        raise DownloadFailed(_describe(error, timeout)) from None
    try:
        _check_headers(response, gave_up, max_bytes)
    except DownloadFailed:
        _discard(response)
        raise
    try:
        body = _read_limited(response, max_bytes)
    except ReadTimeoutError:
        raise DownloadFailed(f"the body stalled for {timeout:g} s") from None
    except (ProtocolError, OSError) as error:
        raise DownloadFailed(f"the connection broke ({error})") from None
    finally:
        # Back to the pool once the body was read whole; a connection cut short is dropped.
        response.release_conn()
    return body, check_image(body, max_bytes, "the body")


def _check_headers(response: urllib3.BaseHTTPResponse, gave_up: str, max_bytes: int) -> None:
    if response.status in RETRY_STATUSES:
        raise DownloadFailed(f"HTTP {response.status} {response.reason} {gave_up}")
    if response.status != 200:
        raise DownloadFailed(f"HTTP {response.status} {response.reason}")
    declared = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if not declared.startswith("image/"):
        raise DownloadFailed(f"the server sent {declared or 'no type'}, not an image")
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise DownloadFailed(f"{int(length)} bytes is over the {max_bytes}-byte limit")


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Give a refused answer's connection back for the next photo, or drop it.

    A short body is read and thrown away so the kept-alive connection stays usable; a long or
    unsized one is not worth reading, so the connection is closed.
    """
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) <= _DRAIN_LIMIT:
        try:
            response.drain_conn()
        except (urllib3.exceptions.HTTPError, OSError):
            response.close()
    else:
        response.close()
    response.release_conn()


def check_image(data: bytes, max_bytes: int, what: str) -> str:
    """The MIME type of an acceptable image; `DownloadFailed` for one too large or not an image."""
    if len(data) > max_bytes:
        raise DownloadFailed(f"{what} is over the {max_bytes}-byte limit")
    detected = image_type(data)
    if detected is None:
        raise DownloadFailed(f"{what} is not a JPEG, PNG or WebP image")
    return detected


def _read_limited(response: urllib3.BaseHTTPResponse, max_bytes: int) -> bytes:
    """Read the body in chunks, stopping as soon as it is over the limit."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(_CHUNK, decode_content=True):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise DownloadFailed(f"the body is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(error: Exception | None, timeout: float) -> str:
    """Why a request got no answer, in a few words."""
    if isinstance(error, NewConnectionError):
        cause = error.__context__ or error.__cause__
        detail = str(cause) if cause else str(error).rpartition(": ")[2]
        return f"cannot connect ({detail})"
    # Checked after NewConnectionError, which urllib3 derives from ConnectTimeoutError.
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        return f"no answer within {timeout:g} s"
    return f"cannot connect ({error})"
