"""HTTP API and a small web page around one loaded `Detector`.

`create_app` is a factory: nothing is loaded at import time, and tests pass their own detector.
Endpoints: `GET /` (upload page; its script and style under `GET /assets/`), `GET /health`, `GET /info`,
`POST /detect` (multipart field `file`) returning the same JSON object per file as `detect --json`;
400 for undecodable audio, 413 for uploads over the size limit.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at run time,
# and the fastapi types are imported inside `create_app` (an optional extra).
import os
from importlib import resources
from typing import Any

from deepfake_audio.detector import Detector
from deepfake_audio.errors import DeepfakeAudioError, require

# The page's own script and style (in web/): the only files `GET /assets/{name}` serves.
_PAGE_ASSETS = {"page.js": "text/javascript", "page.css": "text/css"}


def create_app(model: "Detector | str | os.PathLike | None" = None, *, max_upload_mb: float = 50.0) -> Any:
    """Build the FastAPI app around a detector (or the checkpoint at `model`, or the bundled one)."""
    fastapi = require("fastapi", "serve")
    require("multipart", "serve")
    from fastapi import File, HTTPException, UploadFile
    from fastapi.responses import HTMLResponse, Response

    detector = model if isinstance(model, Detector) else Detector.from_pretrained(model)
    max_bytes = int(max_upload_mb * 1024 * 1024)
    app = fastapi.FastAPI(title="deepfake-audio", version=_version())
    web = resources.files("deepfake_audio") / "web"
    page = (web / "index.html").read_text()
    # Served from the package (not inline) so that a Content-Security-Policy of script-src 'self' holds.
    assets = {name: ((web / name).read_text(), media) for name, media in _PAGE_ASSETS.items()}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/assets/{name}")
    def asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404, f"{name}: no such page asset")
        text, media = assets[name]
        return Response(text, media_type=media)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/info")
    def info() -> dict:
        return {"model": detector.info.model, "window_seconds": detector.window / 16_000,
                "threshold": detector.threshold, "version": _version(),
                "validation_eer": detector.info.extra.get("val_eer")}

    @app.post("/detect")
    async def detect(file: UploadFile = File(...)) -> dict:
        data = await file.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise HTTPException(413, f"{file.filename}: upload larger than {max_upload_mb:g} MB")
        name = file.filename or "upload"
        try:
            prediction = detector(data, name=name)
        except DeepfakeAudioError as e:
            raise HTTPException(400, str(e)) from e
        if prediction.error:
            raise HTTPException(400, prediction.error)
        return prediction.to_dict()

    return app


def _version() -> str:
    from deepfake_audio import __version__

    return __version__
