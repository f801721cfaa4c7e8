"""JSON errors with the right status: ``{"error": "<message>", "status": <code>}``.

Raise :class:`ApiError` anywhere in a route; faceveil's :class:`~faceveil.errors.InputError`
becomes 400, FastAPI's validation errors 422, unknown routes 404, a full disk 507, and anything
unexpected 500 with a short message (the traceback goes to the log, never to the client). A
client that hangs up mid-request costs one log line. Messages name files by their base name
only: no server path, no hidden temporary name reaches a client.
"""

from __future__ import annotations

import errno
import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from faceveil.errors import InputError, ModelNotFoundError

log = logging.getLogger("faceveil.server")
DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
# A filesystem path of two or more parts (absolute, ~ or Windows): what a message must not show.
_PATH = re.compile(
    r"(?<![\w.~/:])(?:[A-Za-z]:[\\/]|~?/)"  # a start: C:\ or C:/, ~/ or /
    r"(?:[^\s'\"():;,\\/]+[\\/])+"  # folders
    r"([^\s'\"():;,\\/]*)"  # the base name
)
# Hidden temporary names: ".photo.k2j3h4g5.jpg" (atomic writes), ".tmp-abc123" (the file store).
_HIDDEN_TMP = re.compile(r"^\.(.+)\.[A-Za-z0-9_]{6,}(\.[A-Za-z0-9]+)$")


def public_name(name: str) -> str:
    """A file name as a client may see it: hidden temporary names become the final name."""
    if name.startswith(".tmp"):
        return "a temporary file"
    match = _HIDDEN_TMP.match(name)
    return match.group(1) + match.group(2) if match else name


def scrub(message: str) -> str:
    """`message` with every filesystem path cut to its base name (API routes stay)."""

    def short(m: re.Match) -> str:
        if m.group(0).startswith(("/api/", "/static/", "/docs")):
            return m.group(0)
        return public_name(m.group(1)) or "a folder"

    return _PATH.sub(short, str(message))


class ApiError(Exception):
    """An error the client should see: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = int(status)
        self.message = str(message)
        self.headers = headers


def scrub_json(value):
    """:func:`scrub` applied to every string inside a JSON value (a job's result, its log)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    return value


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    message = scrub(message)
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def is_disk_full(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def disk_full_response() -> JSONResponse:
    return error_response(507, "disk full: the server has no space left to store this")


def client_gone(request: Request) -> Response:
    """One log line for a client that hung up; the answer is never read."""
    log.warning("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


def install(app: FastAPI) -> None:
    """Add the JSON error handlers to `app`."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return error_response(400, str(exc))

    @app.exception_handler(ModelNotFoundError)
    async def _model_missing(request: Request, exc: ModelNotFoundError):
        return error_response(503, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return error_response(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        cause = exc.__cause__  # FastAPI turns any failure while it parses a form into a 400
        if isinstance(cause, ApiError):
            return error_response(cause.status, cause.message, cause.headers)
        if isinstance(cause, ClientDisconnect):
            return client_gone(request)
        if is_disk_full(cause):
            return disk_full_response()
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        return client_gone(request)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError):
        if is_disk_full(exc):
            log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
            return disk_full_response()
        return _internal(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return _internal(request, exc)


def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, f"internal error ({type(exc).__name__})")
