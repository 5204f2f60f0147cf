"""The upload demo's routes: a page, an upload form, a JSON API; every file through the storage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.storage import (
    FilesystemStorage,
    StorageError,
    StorageInterface,
    UnsafeKeyError,
    get_storage,
)

from .limits import RequestSizeLimit
from .uploads import GALLERY_PREFIXES, UPLOAD_PREFIX, Rejected, accept, max_upload_bytes

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
READ_ONLY_ADVICE = (
    "Uploads need S3 here: this server's disk is read-only ({where} cannot be written), as on "
    "serverless hosts such as LeapCell. Set STORAGE_TYPE=s3, S3_ACCESS_KEY, S3_SECRET_KEY and "
    "S3_BUCKET (with S3_ENDPOINT_URL for LeapCell or MinIO): see example.env."
)


def create_app(storage: StorageInterface | None = None) -> FastAPI:
    """The demo app over `storage` (by default the one the environment and .env select)."""
    storage = storage or get_storage()
    max_bytes = max_upload_bytes()
    app = FastAPI(title="oppdemo upload demo", docs_url=None, redoc_url=None)
    # A whole request over ten files' worth is cut off with 413 as its body arrives.
    app.add_middleware(RequestSizeLimit, max_bytes=10 * max_bytes + 1024 * 1024)
    disabled = _uploads_disabled(storage)
    if isinstance(storage, FilesystemStorage):
        # The URLs the storage returns are served from its folder (no symlinks followed out).
        app.mount(
            storage.base_url,
            StaticFiles(directory=storage.base_dir, check_dir=False),
            name="uploads",
        )

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Response:
        photos, error = _gallery(storage)
        query = request.query_params
        context = {
            "backend": storage.describe(),
            "photos": photos,
            "error": query.get("error") or error,
            "saved": query.getlist("saved"),
            "rejected": [item.split("\n", 1) for item in query.getlist("rejected")],
            "disabled": disabled,
            "max_mb": max_bytes / (1024 * 1024),
        }
        return TEMPLATES.TemplateResponse(request, "index.html", context)

    @app.post("/upload", response_model=None)
    async def upload(
        request: Request,
        files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
    ) -> Response | dict[str, Any]:
        wants_json = "application/json" in request.headers.get("accept", "")
        if disabled:
            if wants_json:
                return JSONResponse({"error": disabled}, status_code=503)
            return RedirectResponse(f"/?{urlencode({'error': disabled})}", status_code=303)
        saved: list[dict[str, str]] = []
        rejected: list[dict[str, str]] = []
        for upload in files:
            name = upload.filename or "(no name)"
            try:
                photo = await run_in_threadpool(accept, upload.file, max_bytes)
            except Rejected as reason:
                rejected.append({"name": name, "reason": str(reason)})
                continue
            try:
                url = await run_in_threadpool(
                    storage.save_stream, photo.stream, photo.key, photo.content_type
                )
            except StorageError as error:
                rejected.append({"name": name, "reason": f"the storage refused it: {error}"})
                continue
            finally:
                photo.stream.close()
            saved.append({"key": photo.key, "url": url, "name": name})
        if wants_json:
            return {
                "saved": [{"key": item["key"], "url": item["url"]} for item in saved],
                "rejected": rejected,
            }
        query = [("saved", item["name"]) for item in saved]
        query += [("rejected", f"{item['name']}\n{item['reason']}") for item in rejected]
        return RedirectResponse(f"/?{urlencode(query)}", status_code=303)

    @app.get("/api/photos", response_model=None)
    def photos() -> Response | list[dict[str, Any]]:
        listed, error = _gallery(storage)
        if error:
            return JSONResponse({"error": error}, status_code=503)
        return [{"key": p["key"], "url": p["url"], "size": p["size"]} for p in listed]

    @app.delete("/api/photos/{key:path}", status_code=204, response_model=None)
    def delete(key: str) -> Response:
        if not key.startswith(UPLOAD_PREFIX):
            return JSONResponse(
                {"error": "only uploaded photos can be deleted here"}, status_code=403
            )
        try:
            deleted = storage.delete_file(key)
        except UnsafeKeyError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except StorageError as error:
            return JSONResponse({"error": str(error)}, status_code=503)
        if not deleted:
            return JSONResponse({"error": f"no photo {key!r}"}, status_code=404)
        return Response(status_code=204)

    return app


def _gallery(storage: StorageInterface) -> tuple[list[dict[str, Any]], str | None]:
    """The seeded and uploaded photos with their URLs, or the storage's error in one sentence."""
    photos = []
    try:
        for prefix in GALLERY_PREFIXES:
            for info in storage.iter_files(prefix):
                photos.append(
                    {
                        "key": info.key,
                        "url": storage.get_file_url(info.key),
                        "size": info.size,
                        "deletable": info.key.startswith(UPLOAD_PREFIX),
                    }
                )
    except StorageError as error:
        return [], f"The storage could not be read: {error}"
    return photos, None


def _uploads_disabled(storage: StorageInterface) -> str | None:
    """Why uploads cannot work here (a read-only disk), or None; never raises at start-up."""
    if not isinstance(storage, FilesystemStorage):
        return None
    folder = storage.base_dir
    try:
        storage.ensure_directories(UPLOAD_PREFIX.rstrip("/"))
    except (StorageError, OSError):
        return READ_ONLY_ADVICE.format(where=folder)
    if not os.access(folder / UPLOAD_PREFIX, os.W_OK):
        return READ_ONLY_ADVICE.format(where=folder)
    return None
