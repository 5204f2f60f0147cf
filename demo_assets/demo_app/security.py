"""What every request passes: the Host check, CSRF, the operator check before a large body,
and the security headers.

Viewing is open. Uploading, deleting and the admin page need an operator (signin.py: a
session, a bearer token equal to `DEMO_PASSWORD`, or anyone under `serve --open`; never an
address). A browser's POST or DELETE must come from the page's own origin (Django's and
Jupyter's rules are the model).
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import re
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import DemoSettings
from .signin import Access

NO_PASSWORD = (
    "Changes need a signed-in operator, and this server has no DEMO_PASSWORD: open the "
    "one-time sign-in link `oppdemo serve` printed when it started (restart it for a new one), "
    "or set DEMO_PASSWORD (and DEMO_SECRET_KEY, shared by every instance) where the app runs."
)
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
_CHANGING = {"POST", "DELETE", "PUT", "PATCH"}
# Routes whose body can be large: the operator check runs before the body is read.
_LARGE_BODIES = {"/upload"}
# Health probes answer whatever the Host: they say nothing a rebinding page could use.
PROBES = {"/healthz", "/readyz"}


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    if address.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def own_origin(scope: Scope) -> str:
    headers = Headers(scope=scope)
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()


def cross_site(scope: Scope) -> bool:
    """Whether a changing request was sent by a page of another origin.

    Origin first, then Referer, then Sec-Fetch-Site; a request with none of them is not from
    a browser (a script, curl), and the sign-in rule alone decides it. Bearer calls are exempt.
    """
    headers = Headers(scope=scope)
    if headers.get("authorization", "").lower().startswith("bearer "):
        return False
    origin = headers.get("origin")
    if origin is not None:
        return origin.lower() != own_origin(scope)
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower() != own_origin(scope)
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() not in ("same-origin", "none")
    return False


def host_allowed(scope: Scope, allowed: tuple[str, ...]) -> bool:
    """`ALLOWED_HOSTS` wherever the connection arrives (a proxy on this machine connects on
    loopback); unset, a connection on loopback may name only loopback (no DNS rebinding),
    any other every name. Probes are exempt: load balancers address them by IP."""
    if scope.get("path") in PROBES:
        return True
    name = _host_name(Headers(scope=scope).get("host", "").lower())
    if allowed:
        return name in allowed
    server = scope.get("server") or (None, None)
    if is_loopback(server[0]):
        return name in _LOOPBACK_NAMES
    return True


def warn_if_proxy_ignored(scope: Scope) -> None:
    """Once per process, when a request names its client in X-Forwarded-For but the app sees
    another (the proxy's own address): serve without --proxy-headers, or a proxy that
    --forwarded-allow-ips does not name. Every visitor then counts as the proxy."""
    forwarded = Headers(scope=scope).get("x-forwarded-for")
    client = (scope.get("client") or ("",))[0]
    if _PROXY_WARNED or not forwarded or not client or client in forwarded:
        return
    _PROXY_WARNED.append(True)
    # uvicorn's own logger: the line appears, formatted, wherever serve's output goes.
    logging.getLogger("uvicorn.error").warning(
        "Requests come through a proxy (X-Forwarded-For), but their client is taken as the "
        "proxy's address %s: start serve with --proxy-headers, and name the proxy in "
        "--forwarded-allow-ips (FORWARDED_ALLOW_IPS), or every visitor counts as one.",
        client,
    )


_PROXY_WARNED: list[bool] = []


def _host_name(host: str) -> str:
    """The Host header without its port: `[::1]:8000` is `[::1]`, `a.example:80` is
    `a.example`; anything else (user info, junk after a bracket) is no name at all."""
    match = _HOST.fullmatch(host)
    return match.group("name") if match else ""


_HOST = re.compile(r"(?P<name>[a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")


class SecurityMiddleware:
    """Host check (400), cross-site changes (403), and the security headers on every answer."""

    def __init__(
        self,
        app: ASGIApp,
        settings: DemoSettings,
        access: Access,
        image_origins: tuple[str, ...],
        connect_origins: tuple[str, ...] = (),
    ):
        self.app = app
        self.settings = settings
        # The app's own: one limiter for the routes' sign-ins and this check's bearer tokens.
        self.access = access
        images = " ".join(("'self'", "data:", *image_origins))
        connect = " ".join(("'self'", *connect_origins))
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (
                b"content-security-policy",
                (
                    "default-src 'self'; script-src 'self'; style-src 'self'; "
                    f"img-src {images}; connect-src {connect}; form-action 'self'; "
                    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
                ).encode(),
            ),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        warn_if_proxy_ignored(scope)
        if not host_allowed(scope, self.settings.allowed_hosts):
            await self._refuse(send, 400, "this Host is not served here (see ALLOWED_HOSTS)")
            return
        if scope["method"] in _CHANGING and cross_site(scope):
            # Behind a proxy that sends no Host or X-Forwarded-Proto, every browser lands here:
            # say which origin the app sees, so the operator can tell.
            reason = (
                "a change from another site is refused (CSRF): this server sees itself as "
                f"{own_origin(scope)}; behind a proxy, have it send Host and X-Forwarded-Proto "
                "and start serve with --proxy-headers"
            )
            await self._refuse(send, 403, reason)
            return
        if scope["method"] == "POST" and scope["path"] in _LARGE_BODIES:
            cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
            verdict = await run_in_threadpool(self.access.check, scope, cookies)
            if not verdict:
                # Refused before the body is read: no one else makes the server take in
                # (and spool to disk) a hundred megabytes of upload.
                await self._not_operator(scope, send, verdict.retry_after)
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _not_operator(self, scope: Scope, send: Send, retry_after: int = 0) -> None:
        """As the routes answer someone who is not an operator: 429 for a limited client, 401
        for an API client, the sign-in page for a browser, or (no password) how to sign in."""
        if retry_after:
            reason = f"too many wrong sign-in tries: wait {retry_after} s"
            await self._refuse(send, 429, reason, [(b"retry-after", str(retry_after).encode())])
            return
        headers = Headers(scope=scope)
        has_password = self.settings.password is not None
        if "application/json" in headers.get("accept", "") or "authorization" in headers:
            reason = "Sign in to change anything." if has_password else NO_PASSWORD
            extra = [(b"www-authenticate", b"Bearer")] if has_password else []
            await self._refuse(send, 401, reason, extra)
            return
        if not has_password:
            body = f"<!doctype html><title>Not allowed</title><p>{html.escape(NO_PASSWORD)}</p>"
            await self._answer(send, 403, body.encode(), b"text/html; charset=utf-8")
            return
        response = [(b"location", b"/signin"), (b"content-length", b"0"), *self.headers]
        await send({"type": "http.response.start", "status": 303, "headers": response})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(
        self, send: Send, status: int, reason: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        body = json.dumps({"error": reason}).encode()
        await self._answer(send, status, body, b"application/json", extra)

    async def _answer(
        self,
        send: Send,
        status: int,
        body: bytes,
        content_type: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
