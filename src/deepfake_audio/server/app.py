"""The FastAPI app: its routes, wired to the worker pool and wrapped in the guards.

Endpoints: `GET /` (upload page), `GET /health`, `GET /info`, `POST /detect` (one multipart file in
field `file`) returning the same JSON object as one element of `detect --json`, and
`POST /detect/batch` (files in fields `files`) returning a list of them, in order.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at run time,
# and the fastapi types are imported inside `create_app` (an optional extra).
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from importlib import resources
from typing import Any

from deepfake_audio.detector import Detector
from deepfake_audio.errors import require
from deepfake_audio.server.settings import ServerSettings

# Answered without an API key: the page must load to ask for one (and browsers fetch the icon with it).
OPEN_PATHS = ("/", "/health", "/favicon.ico")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around one file
OTHER_BODY_LIMIT = 64 * 1024  # endpoints that take no upload
SWAGGER_CDN = "https://cdn.jsdelivr.net"  # where FastAPI's /docs page loads Swagger UI from


def create_app(model: "Detector | str | os.PathLike | None" = None,
               settings: "ServerSettings | None" = None, **options: Any) -> Any:
    """Build the ASGI app around a detector (or the checkpoint at `model`, or the bundled one).

    `settings` (or keyword `options` with the same names, e.g. `max_upload_mb=5`) sets the limits; see
    `ServerSettings`. The returned app is the FastAPI app wrapped in the guards of `server.guards`.
    """
    require("fastapi", "serve")
    require("multipart", "serve")
    import fastapi
    from fastapi import HTTPException, Request
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, JSONResponse

    from deepfake_audio.server.guards import guarded, inline_csp
    from deepfake_audio.server.jobs import ScoringFailed, UploadLimits, failed_prediction, score_upload
    from deepfake_audio.server.pool import OverTimeBudget, ScoringPool, ServerBusy, wait_all
    from deepfake_audio.server.uploads import read_files, read_one_file

    settings = replace(settings or ServerSettings(), **options)
    detector = model if isinstance(model, Detector) else Detector.from_pretrained(model)
    budget = UploadLimits(settings.max_audio_seconds, settings.min_sample_rate, settings.max_sample_rate)
    pool = ScoringPool(settings.workers, settings.queue, settings.time_budget)
    page = (resources.files("deepfake_audio") / "web" / "index.html").read_text()

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = fastapi.FastAPI(title="deepfake-audio", version=_version(), lifespan=lifespan,
                          docs_url=None, redoc_url=None, openapi_url="/openapi.json" if settings.docs else None)
    upload_schema = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}}}}}
    batch_schema = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}

    @app.exception_handler(ServerBusy)
    async def busy(_: Request, e: ServerBusy) -> JSONResponse:
        # Closed after the answer: the refused upload is not drained first.
        return JSONResponse({"detail": str(e)}, status_code=503,
                            headers={"Retry-After": str(e.retry_after), "Connection": "close"})

    @app.exception_handler(OverTimeBudget)
    async def too_slow(_: Request, e: OverTimeBudget) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=504)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health() -> dict:
        # async: answered on the event loop itself, never queued behind the scoring threads
        return {"status": "ok", "api_key_required": bool(settings.api_keys)}

    @app.get("/info")
    async def info() -> dict:
        return {"model": detector.info.model, "window_seconds": detector.window / 16_000,
                "threshold": detector.threshold, "version": _version(),
                "validation_eer": detector.info.extra.get("val_eer"),
                "limits": {"max_upload_mb": settings.max_upload_mb, "max_batch_files": settings.max_batch_files,
                           "max_batch_mb": settings.max_batch_mb, "max_audio_seconds": settings.max_audio_seconds,
                           "time_budget_seconds": settings.time_budget},
                # for monitoring: job slots (running or queued) taken now, of how many; 503 when all are
                "load": {"jobs": pool.taken, "capacity": pool.capacity}}

    @app.post("/detect", openapi_extra=upload_schema)
    async def detect(request: Request) -> dict:
        ticket = pool.admit(1)  # before the body is read: a full server refuses at once
        try:
            upload = await read_one_file(request, "file", settings.max_upload_bytes)
            # ?explain=true adds per-window band explanations (a query parameter: the body stays one file part).
            explain = request.query_params.get("explain", "").lower() in ("1", "true", "yes")
            job = ticket.submit(score_upload, detector, upload.data, upload.name, budget, explain)
        finally:
            ticket.close()
        if not await wait_all([job], ticket.deadline):
            raise OverTimeBudget(f"{upload.name}: not scored within the {settings.time_budget:g} s time budget")
        try:
            prediction = job.result()
        except ScoringFailed as e:
            raise HTTPException(500, str(e)) from None
        if prediction.error:
            raise HTTPException(400, prediction.error)
        return prediction.to_dict()

    @app.post("/detect/batch", openapi_extra=batch_schema)
    async def detect_batch(request: Request) -> list:
        ticket = pool.admit(1)
        try:
            uploads = await read_files(request, "files", settings.max_batch_files, settings.max_upload_bytes)
            ticket.extend(len(uploads) - 1)  # a slot per file: a batch weighs what its files weigh
            jobs = {i: ticket.submit(score_upload, detector, u.data, u.name, budget)
                    for i, u in enumerate(uploads) if u.error is None}
        finally:
            ticket.close()
        finished = await wait_all(list(jobs.values()), ticket.deadline)
        results = []
        for i, upload in enumerate(uploads):
            job = jobs.get(i)
            if job is not None and job in finished and job.exception() is None:
                results.append(job.result().to_dict())
                continue
            if job is None:
                error = upload.error or f"{upload.name}: not scored"
            elif job not in finished:
                error = f"{upload.name}: not scored within the {settings.time_budget:g} s time budget"
            else:
                error = str(job.exception())
            results.append(failed_prediction(detector, upload.name, error).to_dict())
        return results

    if settings.docs:
        docs_page = get_swagger_ui_html(openapi_url="/openapi.json", title="deepfake-audio API").body.decode()

        @app.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return HTMLResponse(docs_page)

    page_csp = {"/": inline_csp(page)}
    if settings.docs:
        page_csp["/docs"] = inline_csp(docs_page, extra_sources=SWAGGER_CDN)
    return guarded(
        app, page_csp=page_csp, allowed_hosts=settings.allowed_hosts, allow_origins=settings.allow_origins,
        api_keys=settings.api_keys, open_paths=OPEN_PATHS + (("/docs", "/openapi.json") if settings.docs else ()),
        body_limits={"/detect": settings.max_upload_bytes + FORM_OVERHEAD, "/detect/batch": settings.max_batch_bytes},
        default_body_limit=OTHER_BODY_LIMIT)


def _version() -> str:
    from deepfake_audio import __version__

    return __version__
