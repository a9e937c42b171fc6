"""Reading uploads from a multipart body: the exact parts each endpoint accepts, and their sizes.

The body as a whole is already capped by `guards.BodyLimit`; here the parser is told how many parts to
accept, so a request with extra parts fails as soon as the first extra part's headers arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as ParserError  # what Request.form raises, FastAPI's base


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    error: str | None = None  # set (and `data` empty) for a file refused before scoring


async def read_one_file(request: Request, field: str, max_bytes: int) -> Upload:
    """The one file part named `field`; anything else in the body is a 400."""
    expected = f"send exactly one part: a file in the multipart field '{field}'"
    items = await _parts(request, max_files=1, max_fields=0, expected=expected)
    if len(items) != 1 or items[0][0] != field or not isinstance(items[0][1], UploadFile):
        raise HTTPException(400, f"{expected} (got {_describe(items)})")
    upload = await _read(items[0][1], max_bytes)
    if upload is None:
        raise HTTPException(413, _too_large(items[0][1], max_bytes))
    return upload


async def read_files(request: Request, field: str, max_files: int, max_bytes: int) -> list[Upload]:
    """Every file part named `field`, in order; a file over `max_bytes` comes with an `error`."""
    expected = f"send 1 to {max_files} files, each in a multipart field '{field}'"
    items = await _parts(request, max_files=max_files, max_fields=0, expected=expected)
    files = [value for key, value in items if key == field and isinstance(value, UploadFile)]
    if not files or len(files) != len(items):
        raise HTTPException(400, f"{expected} (got {_describe(items)})")
    uploads = []
    for file in files:
        upload = await _read(file, max_bytes)
        uploads.append(upload or Upload(_name(file), b"", _too_large(file, max_bytes)))
    return uploads


async def _parts(request: Request, *, max_files: int, max_fields: int, expected: str) -> list[tuple[str, object]]:
    try:
        form = await request.form(max_files=max_files, max_fields=max_fields)
    except ParserError as e:
        if e.status_code == 400:  # the parser's own words ("Too many files ...") plus what to send
            raise HTTPException(400, f"{expected}: {e.detail}") from None
        raise
    return list(form.multi_items())


async def _read(file: UploadFile, max_bytes: int) -> Upload | None:
    data = await file.read(max_bytes + 1)
    return Upload(_name(file), data) if len(data) <= max_bytes else None


def _too_large(file: UploadFile, max_bytes: int) -> str:
    return f"{_name(file)}: upload larger than {max_bytes / 2**20:g} MiB"


def _name(file: UploadFile) -> str:
    # Only the base name is shown back: it is a label, never a path on this server.
    return (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1] or "upload"


def _describe(items: list[tuple[str, object]]) -> str:
    if not items:
        return "no parts"
    return ", ".join(f"{'file' if isinstance(v, UploadFile) else 'field'} '{k}'" for k, v in items)
