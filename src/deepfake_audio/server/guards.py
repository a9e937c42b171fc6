"""ASGI middleware that answers abusive or unwanted requests before the app (or its body parser) runs.

Imported only with the `serve` extra installed (starlette comes with FastAPI).
Plain ASGI rather than framework middleware: each guard must act on the headers alone, before one byte
of the body is read, and the security headers must also reach the answers the guards give themselves.
Order, outermost first (see `guarded`): security headers, Host check, origin (CORS), API key, body size.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# For JSON answers: nothing may be loaded or framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),  # verdicts about someone's recording do not belong in caches
]
KEY_HEADER = b"x-api-key"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def send_error(send: Send, status: int, detail: str, headers: Headers = ()) -> None:
    """A JSON `{"detail": ...}` answer, the same shape FastAPI gives its own errors. The connection is
    closed after it: a refused request's body is never read (nor drained)."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


def inline_csp(html: str, *, extra_sources: str = "") -> str:
    """A CSP for one HTML page that allows exactly its inline <script> and <style> blocks (by hash).

    Hashes rather than 'unsafe-inline': the page keeps working as one self-contained file, and no other
    script (injected markup, an attribute handler) can run. `extra_sources` adds origins, e.g. a CDN.
    """
    scripts = re.findall(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", html, re.DOTALL | re.IGNORECASE)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.DOTALL | re.IGNORECASE)

    def hashes(blocks: list[str]) -> str:
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                        for b in blocks)

    extra = f" {extra_sources}" if extra_sources else ""
    return (f"default-src 'none'; script-src 'self'{extra} {hashes(scripts)}; "
            f"style-src 'self'{extra} {hashes(styles)}; img-src 'self' data: blob:{extra}; media-src 'self' blob:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class SecurityHeaders:
    """Adds CSP, nosniff, frame denial and no-referrer to every answer, errors included."""

    def __init__(self, app: ASGIApp, page_csp: Mapping[str, str]) -> None:
        self.app, self.page_csp = app, dict(page_csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = self.page_csp.get(scope["path"], API_CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", ())}
                added = [(k, v) for k, v in [*SECURITY_HEADERS, (b"content-security-policy", csp)]
                         if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HostCheck:
    """Refuses Host headers outside a list: a server on 127.0.0.1 is otherwise open to DNS rebinding
    (a web page whose name re-resolves to 127.0.0.1 becomes 'same-origin' with it)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            host = _strip_port(header(scope, b"host") or "")
            if host.lower() not in self.allowed:
                return await send_error(send, 400, f"Host header {host!r} not accepted by this server")
        await self.app(scope, receive, send)


class OriginCheck:
    """CORS, closed by default: a request a browser sends from another origin is refused before it is
    processed (a multipart POST needs no preflight, so the browser would otherwise deliver it).

    Requests without an Origin header (curl, scripts) and same-origin requests (the page) pass.
    """

    ALLOW_HEADERS = b"authorization, content-type, x-api-key"

    def __init__(self, app: ASGIApp, allow_origins: Iterable[str]) -> None:
        self.app = app
        self.allow_origins = {o.rstrip("/") for o in allow_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None or _same_origin(origin, header(scope, b"host")):
            return await self.app(scope, receive, send)
        if origin.rstrip("/") not in self.allow_origins and "*" not in self.allow_origins:
            return await send_error(send, 403, f"cross-origin request from {origin} refused (the server "
                                               "allows it only with --allow-origin)")
        cors: Headers = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method"):
            await send({"type": "http.response.start", "status": 204, "headers": [
                *cors, (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", self.ALLOW_HEADERS), (b"access-control-max-age", b"600")]})
            return await send({"type": "http.response.body", "body": b""})

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


class ApiKeyCheck:
    """With keys configured, every path except `open_paths` needs one, as `X-API-Key: KEY` or
    `Authorization: Bearer KEY`; checked before the body is read, compared in constant time."""

    def __init__(self, app: ASGIApp, keys: Iterable[str], open_paths: Iterable[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]
        self.open_paths = set(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["path"] in self.open_paths:
            return await self.app(scope, receive, send)
        given = header(scope, KEY_HEADER)
        if given is None:
            scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        if given is None:
            return await send_error(send, 401, "an API key is required (X-API-Key header or Authorization: "
                                               "Bearer)", [(b"www-authenticate", b"Bearer")])
        if not self._known(given.encode("latin-1")):
            return await send_error(send, 401, "API key not accepted", [(b"www-authenticate", b"Bearer")])
        await self.app(scope, receive, send)

    def _known(self, given: bytes) -> bool:
        # Every key is compared (no early exit) so timing tells nothing about which one came close.
        found = False
        for key in self.keys:
            found |= hmac.compare_digest(given, key)
        return found


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes its limit: the framework answers it as a 413
    like its own errors; `BodyLimit` answers it itself if it escapes before a response started."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodyLimit:
    """Caps request bodies per path: a Content-Length over the limit is answered 413 before anything is
    read, and a streamed (chunked) body is cut off as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int], default_limit: int) -> None:
        self.app, self.limits, self.default_limit = app, dict(limits), default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.default_limit)
        too_large = f"request body larger than the {_size(limit)} this endpoint accepts"
        close: Headers = [(b"connection", b"close")]  # the rest of the body is never read
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return await send_error(send, 400, "invalid Content-Length header")
            if int(declared) > limit:
                return await send_error(send, 413, too_large)
        received = 0
        cut = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True
                    raise BodyTooLarge(too_large)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if cut:
                    message = {**message, "headers": [*message.get("headers", ()), *close]}
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await send_error(send, 413, too_large)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(origin: str, host: str | None) -> bool:
    _, _, authority = origin.partition("://")
    return bool(host) and authority.rstrip("/").lower() == host.lower()


def guarded(app: ASGIApp, *, page_csp: Mapping[str, str], allowed_hosts: Iterable[str] | None,
            allow_origins: Iterable[str], api_keys: Iterable[str], open_paths: Iterable[str],
            body_limits: Mapping[str, int], default_body_limit: int) -> ASGIApp:
    """`app` wrapped in every guard, outermost first as listed in the module docstring."""
    app = BodyLimit(app, body_limits, default_body_limit)
    app = ApiKeyCheck(app, api_keys, open_paths)
    app = OriginCheck(app, allow_origins)
    app = HostCheck(app, allowed_hosts)
    return SecurityHeaders(app, page_csp)
