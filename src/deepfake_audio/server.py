"""HTTP API and a small web page around one loaded `Detector`.

`create_app` is a factory: nothing is loaded at import time, and tests pass their own detector.
Endpoints: `GET /` (upload page), `GET /health`, `GET /info`, `POST /detect` (multipart field `file`)
returning the same JSON object per file as `detect --json`; 400 for undecodable audio, 413 for uploads
over the size limit.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at run time,
# and the fastapi types are imported inside `create_app` (an optional extra).
import os
from importlib import resources
from typing import Any

from deepfake_audio.detector import Detector
from deepfake_audio.errors import DeepfakeAudioError, require


def create_app(model: "Detector | str | os.PathLike | None" = None, *, max_upload_mb: float = 50.0) -> Any:
    """Build the FastAPI app around a detector (or the checkpoint at `model`, or the bundled one)."""
    fastapi = require("fastapi", "serve")
    require("multipart", "serve")
    from fastapi import File, HTTPException, UploadFile
    from fastapi.responses import HTMLResponse

    detector = model if isinstance(model, Detector) else Detector.from_pretrained(model)
    max_bytes = int(max_upload_mb * 1024 * 1024)
    app = fastapi.FastAPI(title="deepfake-audio", version=_version())
    page = (resources.files("deepfake_audio") / "web" / "index.html").read_text()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

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
