"""Refuse a request whose body is too large, as it arrives, with 413."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(Exception):
    pass


# Every body but an upload's is a short form or JSON document (a sign-in, a ticket request).
SMALL_BODY_BYTES = 64 * 1024


class RequestSizeLimit:
    """ASGI middleware: a declared or received body over the limit gets 413 at once: the
    paths in `large_paths` (uploads) may send `max_bytes`, every other one 64 KB, so that no
    visitor makes the app read a large body it would refuse anyway."""

    def __init__(self, app: ASGIApp, max_bytes: int, large_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.large_paths = large_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        large = scope.get("path") in self.large_paths
        limit = self.max_bytes if large else min(self.max_bytes, SMALL_BODY_BYTES)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(send)
            return
        received = 0
        started = False
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                # The app's own answer to a body cut off (FastAPI's 400 "error parsing the
                # body", for one sent in chunks with no Content-Length) becomes the 413.
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if too_large and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = b'{"error": "the request is too large"}'
        start: dict[str, Any] = {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body})
