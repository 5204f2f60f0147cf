"""Probes and a slow bucket: /healthz (the process answers), /readyz (the storage answers
in time), HEAD as GET, and the bounded wait the page puts around its storage calls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.storage import StorageError, StorageInterface

from .uploads import UPLOAD_PREFIX

T = TypeVar("T")


class StorageTimeout(Exception):
    """The storage did not answer within the page's wait; the message says so."""


class StorageWaits:
    """Storage calls the app waits for at most `seconds` (DEMO_STORAGE_TIMEOUT).

    Each call runs in a daemon thread of its own, and callers of a job that is already
    running share it: a hung bucket holds one thread per job, never one per visitor, and
    never the server's worker threads; the thread ends when botocore's own timeouts fire.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._running: dict[str, Future[Any]] = {}

    async def run(self, job: str, call: Callable[[], T]) -> T:
        with self._lock:
            future = self._running.get(job)
            if future is None or future.done():
                future = Future()
                # A running future cannot be cancelled: one caller's timeout ends only its wait.
                future.set_running_or_notify_cancel()
                self._running[job] = future
                threading.Thread(target=_settle, args=(future, call), daemon=True).start()
        try:
            # Each caller waits on a wrapper of its own: its timeout never cancels the others'.
            return await asyncio.wait_for(asyncio.wrap_future(future), self.seconds)  # type: ignore[no-any-return]
        except TimeoutError:
            raise StorageTimeout(
                f"The storage did not answer within {self.seconds:g} s "
                "(DEMO_STORAGE_TIMEOUT); try again later."
            ) from None


def _settle(future: Future[Any], call: Callable[[], Any]) -> None:
    try:
        future.set_result(call())
    except Exception as error:  # handed to every waiter as it is
        future.set_exception(error)


def health_routes(storage: StorageInterface, waits: StorageWaits) -> APIRouter:
    """/healthz never touches the storage; /readyz asks it one cheap question, in time."""
    router = APIRouter()

    @router.api_route("/healthz", methods=["GET", "HEAD"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.api_route("/readyz", methods=["GET", "HEAD"], response_model=None)
    async def readyz() -> JSONResponse | dict[str, str]:
        try:
            # One HEAD of a key that need not exist: an answer, either way, means ready.
            await waits.run("ready", lambda: storage.file_exists(f"{UPLOAD_PREFIX}.ready"))
        except StorageTimeout as error:
            return JSONResponse({"status": "unavailable", "error": str(error)}, status_code=503)
        except StorageError as error:
            problem = f"The storage could not be read: {error}"
            return JSONResponse({"status": "unavailable", "error": problem}, status_code=503)
        return {"status": "ok"}

    return router


class HeadAsGet:
    """ASGI middleware: HEAD is answered as GET is, headers and all, without the body
    (FastAPI's routes answer HEAD with 405 unless they list it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
