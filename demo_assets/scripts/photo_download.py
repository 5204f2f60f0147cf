"""Download one image over HTTP with timeouts, retries and checks on what comes back."""

from __future__ import annotations

import http.client
import random
import time
import urllib.error
import urllib.request
from email.message import Message

from .photo_catalog import image_type

USER_AGENT = "oppdemo-sample-photos/1.0"
RETRY_STATUSES = {429, 500, 502, 503, 504}
_CHUNK = 64 * 1024
_MAX_RETRY_AFTER = 10.0


class DownloadFailed(Exception):
    """The photo could not be fetched or is not an acceptable image; the reason says why."""


class _TryAgain(DownloadFailed):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def fetch_image(
    url: str, *, timeout: float, max_bytes: int, attempts: int = 3, backoff: float = 0.5
) -> tuple[bytes, str]:
    """Return the image at `url` and its MIME type, or raise `DownloadFailed`.

    Connection errors, timeouts, 429 and 5xx answers are tried again, up to `attempts` times
    in all, waiting `backoff` seconds and then twice as long each time (with jitter).
    """
    for attempt in range(1, attempts + 1):
        try:
            return _fetch_once(url, timeout, max_bytes)
        except _TryAgain as error:
            if attempt == attempts:
                raise DownloadFailed(f"{error} (gave up after {attempts} tries)") from None
            delay = backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            time.sleep(min(error.retry_after, _MAX_RETRY_AFTER) if error.retry_after else delay)
    raise AssertionError("unreachable")


def _fetch_once(url: str, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
    try:
        # The timeout bounds the connection and every read of the body.
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in RETRY_STATUSES:
            raise _TryAgain(f"HTTP {error.code}", _retry_after(error.headers)) from None
        raise DownloadFailed(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise _TryAgain(f"cannot connect ({error.reason})") from None
    except TimeoutError:
        raise _TryAgain(f"no answer within {timeout:g} s") from None
    except OSError as error:
        raise _TryAgain(f"cannot connect ({error.strerror or error})") from None
    with response:
        if response.status != 200:
            raise DownloadFailed(f"HTTP {response.status}, expected 200")
        declared = response.headers.get_content_type()
        if not declared.startswith("image/"):
            raise DownloadFailed(f"the server sent {declared}, not an image")
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise DownloadFailed(f"{int(length)} bytes is over the {max_bytes}-byte limit")
        body = _read_limited(response, max_bytes, timeout)
    return body, check_image(body, max_bytes, "the body")


def check_image(data: bytes, max_bytes: int, what: str) -> str:
    """The MIME type of an acceptable image; `DownloadFailed` for one too large or not an image."""
    if len(data) > max_bytes:
        raise DownloadFailed(f"{what} is over the {max_bytes}-byte limit")
    detected = image_type(data)
    if detected is None:
        raise DownloadFailed(f"{what} is not a JPEG, PNG or WebP image")
    return detected


def _read_limited(response: http.client.HTTPResponse, max_bytes: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise DownloadFailed(f"the body is over the {max_bytes}-byte limit")
            chunks.append(chunk)
    except TimeoutError:
        raise _TryAgain(f"the body stalled for {timeout:g} s") from None
    except OSError as error:
        raise _TryAgain(f"the connection broke ({error})") from None


def _retry_after(headers: Message) -> float | None:
    value = headers.get("Retry-After", "") if headers else ""
    return float(value) if value.strip().isdigit() else None
