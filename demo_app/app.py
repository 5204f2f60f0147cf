"""The upload demo's routes: a page, an upload form, a JSON API, sign-in and an admin page;
every file through the storage.

    uvicorn demo_app.app:create_app --factory --host 0.0.0.0 --port $PORT --proxy-headers \
        --forwarded-allow-ips "$PROXY_ADDRESSES"   # the platform's proxies, not 127.0.0.1

Behind nginx: docs/demo/deploying.md.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from services.storage import (
    FilesystemStorage,
    StorageError,
    StorageInterface,
    UnsafeKeyError,
    get_storage,
)

from .admin import admin_context, doctor, seed
from .gallery import confirm_upload, gallery, store_photo, thumb_key
from .health import HeadAsGet, StorageTimeout, StorageWaits, health_routes
from .limits import RequestSizeLimit
from .origins import image_origins, upload_origins
from .photos import PhotoRefused
from .security import NO_PASSWORD, SecurityMiddleware, cross_site
from .settings import DemoSettings, read_settings
from .signin import (
    ENDED_PREFIX,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Access,
    Limited,
    Verdict,
    configure_logging,
    speculative,
)
from .uploads import (
    ACCEPTED_TYPES,
    INCOMING_PREFIX,
    THUMB_PREFIX,
    UPLOAD_PREFIX,
    Rejected,
)

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
READ_ONLY_ADVICE = (
    "Uploads need S3 here: this server's disk is read-only ({where} cannot be written), as on "
    "serverless hosts such as LeapCell. Set STORAGE_TYPE=s3, S3_ACCESS_KEY, S3_SECRET_KEY and "
    "S3_BUCKET (with S3_ENDPOINT_URL for LeapCell or MinIO): see example.env."
)
USED_LINK = (
    "This sign-in link is wrong or was used already: a link is good once. Restart "
    "`oppdemo serve` for a new one, or sign in with DEMO_PASSWORD where it is set."
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
DIRECT_EXPIRES = 600


class UploadTicket(BaseModel):
    """What the page says of a file before sending it to the bucket."""

    name: str = ""
    size: int
    type: str

    def problem(self, max_bytes: int) -> str | None:
        if self.type not in ACCEPTED_TYPES:
            return f"{self.type!r} is not a JPEG, PNG, WebP or GIF image"
        if self.size < 1:
            return "the file is empty"
        if self.size > max_bytes:
            return f"over the {max_bytes / (1024 * 1024):.3g} MB limit"
        return None


def create_app(
    storage: StorageInterface | None = None, settings: DemoSettings | None = None
) -> FastAPI:
    """The demo app over `storage` (by default the one the environment and .env select)."""
    settings = settings or read_settings()
    storage = storage or get_storage()
    max_bytes = settings.max_upload_bytes
    access = Access(settings, storage)
    configure_logging()
    app = FastAPI(title="oppdemo upload demo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, and fails (500) on one it cannot write as
        # JSON, such as 1e400: name where the problem is, not what was sent.
        where = sorted({".".join(str(part) for part in item["loc"]) for item in error.errors()})
        return JSONResponse({"error": f"invalid request: {', '.join(where)}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # A browser asking for a page gets one; an API client, JSON it can read.
        if error.status_code == 404 and "text/html" in request.headers.get("accept", ""):
            return TEMPLATES.TemplateResponse(request, "404.html", {}, status_code=404)
        return JSONResponse(
            {"error": "not found" if error.status_code == 404 else str(error.detail)},
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # Browsers ask for it on pages without the <link> (a JSON answer, an image).
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    # A request over ten files' worth (or REQUEST_MAX_MB) is cut off with 413 as it arrives.
    app.add_middleware(RequestSizeLimit, max_bytes=settings.request_limit, large_paths=("/upload",))
    direct = settings.direct_uploads and callable(getattr(storage, "presigned_post", None))
    app.add_middleware(
        SecurityMiddleware,
        settings=settings,
        access=access,
        image_origins=image_origins(storage),
        connect_origins=upload_origins(storage) if direct else (),
    )
    waits = StorageWaits(settings.storage_timeout)
    app.include_router(health_routes(storage, waits))
    app.add_middleware(HeadAsGet)
    app.mount("/demo-static", StaticFiles(directory=HERE / "static"), name="demo-static")
    disabled = _uploads_disabled(storage)
    if isinstance(storage, FilesystemStorage):
        # The URLs the storage returns are served from its folder (no symlinks followed out).
        app.mount(
            storage.base_url,
            _InlineFiles(directory=storage.base_dir, check_dir=False),
            name="uploads",
        )

    def operator(request: Request) -> Verdict:
        """Blocking (a signed-out session is looked up in the storage): async routes call it
        in a thread."""
        return access.check(request.scope, request.cookies)

    def refused(request: Request, verdict: Verdict) -> Response:
        """Not an operator: 429 for a client that must wait, 401 for an API call, the sign-in
        page (or how to sign in) for a browser."""
        if verdict.retry_after:
            return too_many(request, verdict.retry_after)
        message = NO_PASSWORD if settings.password is None else "Sign in to change anything."
        if _wants_json(request):
            headers = {"WWW-Authenticate": "Bearer"} if settings.password else {}
            return JSONResponse({"error": message}, status_code=401, headers=headers)
        if settings.password is None:
            context = {"message": message}
            return TEMPLATES.TemplateResponse(request, "refused.html", context, status_code=403)
        return RedirectResponse("/signin", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request) -> Response:
        photos, error = await _gallery(storage, waits)
        query = request.query_params
        rejected = [item.partition("\n")[::2] for item in query.getlist("rejected")]
        context = {
            "backend": storage.describe(),
            "photos": photos,
            # Only the app's own notice: a link cannot put words in the page's alert box.
            "error": (disabled if query.get("error") == "read-only" else None) or error,
            "saved": query.getlist("saved"),
            "rejected": rejected,
            "disabled": disabled,
            "max_mb": max_bytes / (1024 * 1024),
            "operator": bool(await run_in_threadpool(operator, request)),
            "can_sign_in": not settings.open_access,
            "direct": direct,
        }
        return TEMPLATES.TemplateResponse(request, "index.html", context)

    def too_many(request: Request, wait: int) -> Response:
        message = f"Too many wrong sign-in tries from your address: wait {wait} s."
        headers = {"Retry-After": str(wait)}
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=429, headers=headers)
        context = {"error": message, "password": settings.password is not None}
        return TEMPLATES.TemplateResponse(
            request, "signin.html", context, status_code=429, headers=headers
        )

    def signed_in(request: Request, cookie: str) -> Response:
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return answer

    def not_allowed(request: Request, message: str, status: int = 403) -> Response:
        return TEMPLATES.TemplateResponse(
            request, "refused.html", {"message": message}, status_code=status
        )

    @app.get("/signin", response_class=HTMLResponse)
    def sign_in_page(request: Request, token: str = "") -> Response:
        if token:
            # The one-time link `serve` printed: good once, then the session cookie counts.
            if speculative(request.headers):
                # Not an error page the browser would keep: it fetches again on Enter.
                return Response(status_code=503, headers={"Cache-Control": "no-store"})
            try:
                cookie = access.sign_in_with_link(
                    request.scope, token, from_another_site=cross_site(request.scope)
                )
            except Limited as limited:
                return too_many(request, limited.retry_after)
            except StorageError as error:
                problem = f"The sign-in could not be recorded in the storage: {error}"
                return not_allowed(request, problem, 503)
            if cookie is None:
                return not_allowed(request, USED_LINK)
            return signed_in(request, cookie)
        if settings.password is None:
            return not_allowed(request, NO_PASSWORD)
        return TEMPLATES.TemplateResponse(request, "signin.html", {"error": None})

    @app.post("/signin", response_model=None)
    def sign_in(request: Request, password: Annotated[str, Form()] = "") -> Response:
        if settings.password is None:
            return not_allowed(request, NO_PASSWORD)
        if access.session(request.cookies) is not None:
            return RedirectResponse("/", status_code=303)  # signed in: never limited
        try:
            cookie = access.sign_in(request.scope, password)
        except Limited as limited:
            return too_many(request, limited.retry_after)
        if cookie is None:
            context = {"error": "Wrong password."}
            return TEMPLATES.TemplateResponse(request, "signin.html", context, status_code=401)
        return signed_in(request, cookie)

    @app.post("/signout")
    def sign_out(request: Request) -> Response:
        answer: Response = RedirectResponse("/", status_code=303)
        try:
            # Ended on every instance: the old cookie is refused everywhere from now on.
            access.sign_out(request.cookies)
        except StorageError as error:
            problem = f"The sign-out could not be recorded in the storage: {error}"
            answer = not_allowed(request, problem, 503)
        answer.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
        return answer

    @app.post("/upload", response_model=None)
    async def upload(
        request: Request,
        files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
    ) -> Response | dict[str, Any]:
        if not (verdict := await run_in_threadpool(operator, request)):
            return refused(request, verdict)
        wants_json = _wants_json(request)
        if disabled:
            if wants_json:
                return JSONResponse({"error": disabled}, status_code=503)
            return RedirectResponse("/?error=read-only", status_code=303)
        saved: list[dict[str, str]] = []
        rejected: list[dict[str, str]] = []
        for upload in files:
            name = upload.filename or "(no name)"
            try:
                url, key = await run_in_threadpool(store_photo, storage, upload.file, max_bytes)
            except (Rejected, PhotoRefused) as reason:
                rejected.append({"name": name, "reason": str(reason)})
                continue
            except StorageError as error:
                rejected.append({"name": name, "reason": f"the storage refused it: {error}"})
                continue
            saved.append({"key": key, "url": url, "name": name})
        if wants_json:
            return {
                "saved": [{"key": item["key"], "url": item["url"]} for item in saved],
                "rejected": rejected,
            }
        query = [("saved", item["name"]) for item in saved]
        query += [("rejected", f"{item['name']}\n{item['reason']}") for item in rejected]
        return RedirectResponse(f"/?{urlencode(query)}", status_code=303)

    @app.get("/api/photos", response_model=None)
    async def photos() -> Response | list[dict[str, Any]]:
        listed, error = await _gallery(storage, waits)
        if error:
            return JSONResponse({"error": error}, status_code=503)
        return [{"key": p["key"], "url": p["url"], "size": p["size"]} for p in listed]

    @app.delete("/api/photos/{key:path}", status_code=204, response_model=None)
    def delete(request: Request, key: str) -> Response:
        if not (verdict := operator(request)):
            return refused(request, verdict)
        if not key.startswith(UPLOAD_PREFIX):
            return JSONResponse(
                {"error": "only uploaded photos can be deleted here"}, status_code=403
            )
        try:
            deleted = storage.delete_file(key)
            if deleted:
                storage.delete_file(thumb_key(key))
        except UnsafeKeyError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except StorageError as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        if not deleted:
            return JSONResponse({"error": f"no photo {key!r}"}, status_code=404)
        return Response(status_code=204)

    @app.post("/api/uploads", response_model=None)
    def sign_upload(request: Request, ticket: UploadTicket) -> Response | dict[str, Any]:
        """Sign a browser's upload straight to the bucket (presigned POST)."""
        if not (verdict := operator(request)):
            return refused(request, verdict)
        if not direct:
            return JSONResponse(
                {"error": "direct uploads need S3 (and S3_DIRECT_UPLOADS not false)"},
                status_code=409,
            )
        problem = ticket.problem(max_bytes)
        if problem:
            return JSONResponse({"error": problem}, status_code=422)
        ident = uuid.uuid4().hex
        try:
            form = storage.presigned_post(  # type: ignore[attr-defined]
                f"{INCOMING_PREFIX}{ident}", ticket.type, max_bytes, DIRECT_EXPIRES
            )
        except StorageError as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return {"id": ident, "url": form["url"], "fields": form["fields"], "expires": 600}

    @app.post("/api/uploads/{ident}/confirm", response_model=None)
    async def confirm_direct_upload(request: Request, ident: str) -> Response | dict[str, Any]:
        """Check and clean what the browser sent to the bucket, as a proxied upload is."""
        if not (verdict := await run_in_threadpool(operator, request)):
            return refused(request, verdict)
        if not re.fullmatch(r"[0-9a-f]{32}", ident):
            return JSONResponse({"error": "no such upload"}, status_code=422)
        try:
            url, key = await run_in_threadpool(confirm_upload, storage, ident, max_bytes)
        except FileNotFoundError:
            return JSONResponse({"error": "nothing was uploaded for this id"}, status_code=422)
        except (Rejected, PhotoRefused) as reason:
            return JSONResponse({"error": str(reason)}, status_code=422)
        except StorageError as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        return {"saved": [{"key": key, "url": url}], "rejected": []}

    @app.get("/admin", response_class=HTMLResponse)
    def admin(request: Request) -> Response:
        if not (verdict := operator(request)):
            return refused(request, verdict)
        return TEMPLATES.TemplateResponse(request, "admin.html", admin_context(storage))

    @app.post("/admin/seed", response_class=HTMLResponse)
    async def admin_seed(request: Request) -> Response:
        if not (verdict := await run_in_threadpool(operator, request)):
            return refused(request, verdict)
        summary = await run_in_threadpool(seed, storage)
        context = {**admin_context(storage), "seeded": summary}
        return TEMPLATES.TemplateResponse(request, "admin.html", context)

    @app.post("/admin/check", response_class=HTMLResponse)
    async def admin_check(request: Request) -> Response:
        if not (verdict := await run_in_threadpool(operator, request)):
            return refused(request, verdict)
        steps = await run_in_threadpool(doctor)
        context = {**admin_context(storage), "steps": steps}
        return TEMPLATES.TemplateResponse(request, "admin.html", context)

    return app


async def _gallery(
    storage: StorageInterface, waits: StorageWaits
) -> tuple[list[dict[str, Any]], str | None]:
    """The gallery, or why not: the storage's error, or that it did not answer in time."""
    try:
        return await waits.run("gallery", lambda: gallery(storage))
    except StorageTimeout as error:
        return [], str(error)


def _wants_json(request: Request) -> bool:
    """An API client (JSON asked for, an /api/ path, or a bearer token), not a browser page."""
    headers = request.headers
    return (
        "application/json" in headers.get("accept", "")
        or request.url.path.startswith("/api/")
        or "authorization" in headers
    )


def _uploads_disabled(storage: StorageInterface) -> str | None:
    """Why uploads cannot work here (a read-only disk), or None; never raises at start-up."""
    if not isinstance(storage, FilesystemStorage):
        return None
    folder = storage.base_dir
    try:
        storage.ensure_directories(UPLOAD_PREFIX.rstrip("/"), THUMB_PREFIX.rstrip("/"))
    except (StorageError, OSError):
        return READ_ONLY_ADVICE.format(where=folder)
    if not os.access(folder / UPLOAD_PREFIX, os.W_OK):
        return READ_ONLY_ADVICE.format(where=folder)
    return None


class _InlineFiles(StaticFiles):
    """The upload folder, served with `Content-Disposition: inline` and a safe file name;
    never the sign-out records kept beside the photos."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        # `path` is normalised (no `..`, slashes decoded); lower case and no trailing dots
        # or spaces, as a case-insensitive (macOS) or Windows disk would find the folder.
        first = path.replace(os.sep, "/").split("/")[0].lower().rstrip(". ")
        if first == ENDED_PREFIX.rstrip("/"):
            raise StarletteHTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200):  # type: ignore[no-untyped-def]
        response = super().file_response(full_path, stat_result, scope, status_code)
        name = _SAFE_NAME.sub("_", os.path.basename(str(full_path))) or "photo"
        response.headers["content-disposition"] = f'inline; filename="{name}"'
        return response
