"""Request bodies of the synchronous routes: multipart form or JSON, one options model each.

A route takes its options as form fields (multipart/form-data or urlencoded) or as a JSON
object; images come as multipart files, or as base64 strings (data URLs too) in the same field
names. Options are validated by a Pydantic model (422 on bad values); the OpenAPI schema lists
both body kinds, so ``/docs`` and schemathesis see every field.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from faceveil.server import uploads
from faceveil.server.errors import ApiError

FORM_KINDS = ("multipart/form-data", "application/x-www-form-urlencoded")
MEDIA_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "avi": "video/x-msvideo",
    "zip": "application/zip",
}


M = TypeVar("M", bound=BaseModel)


class Body(Generic[M]):
    """Validated options plus the raw bytes of each file field that was sent."""

    def __init__(self, options: M, files: dict[str, bytes]):
        self.options = options
        self.files = files

    def file(self, name: str, required: bool = True) -> bytes | None:
        if name not in self.files and required:
            raise ApiError(400, f"missing file field {name!r}")
        return self.files.get(name)


def _validate(model: type[M], data: dict) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


def _form_value(value: str) -> Any:
    """Form fields are strings: empty means absent, JSON arrays/objects are decoded."""
    value = value.strip()
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


async def read_body(request: Request, model: type[M], files: tuple[str, ...] = ()) -> Body[M]:
    """Parse a multipart/urlencoded form or a JSON object into `model` and file bytes."""
    settings = request.app.state.settings
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    form = None
    if ctype in FORM_KINDS:
        form = await request.form(max_part_size=uploads.body_limit(settings))
        for key, value in form.multi_items():
            if key in files:
                sources[key] = value
            elif isinstance(value, str):
                if value.strip():
                    raw[key] = _form_value(value)
            else:
                raise ApiError(400, f"field {key!r} is not a file field")
    elif ctype == "application/json" or ctype.endswith("+json"):
        body = await request.body()
        if body.strip():
            try:
                data = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApiError(400, "invalid JSON body") from None
            if not isinstance(data, dict):
                raise ApiError(400, "the JSON body must be an object")
            for key in files:
                if data.get(key) is not None:
                    if not isinstance(data[key], str):
                        raise ApiError(400, f"{key!r} must be a base64 string")
                    sources[key] = data[key]
                data.pop(key, None)
            raw = data
    elif ctype or await request.body():
        raise ApiError(415, "send multipart/form-data, a urlencoded form or application/json")
    try:
        options = _validate(model, raw)
        data = {
            k: await run_in_threadpool(uploads.read_upload_bytes, v, settings)
            for k, v in sources.items()
        }
    finally:
        if form is not None:
            await form.close()
    return Body(options, data)


def _binary_schema(schema: dict, files: tuple[str, ...], binary: bool, required: tuple) -> dict:
    out = json.loads(json.dumps(schema))
    props = out.setdefault("properties", {})
    for name in files:
        props[name] = (
            {"type": "string", "format": "binary"}
            if binary
            else {"type": "string", "contentEncoding": "base64", "description": "base64 image"}
        )
    req = [*out.get("required", []), *required]
    if req:
        out["required"] = req
    return out


def body_doc(
    model: type[BaseModel], files: tuple[str, ...] = (), required: tuple[str, ...] = ()
) -> dict:
    """``openapi_extra`` that documents the form and JSON bodies of a route."""
    schema = model.model_json_schema()
    if "$defs" in schema:  # keep request models flat: inline schemas cannot carry $defs
        raise TypeError(f"{model.__name__}: nested models are not supported in bodies")
    form = _binary_schema(schema, files, True, required)
    as_json = _binary_schema(schema, files, False, required)
    return {
        "requestBody": {
            "required": bool(required),
            "content": {
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": as_json},
            },
        }
    }


def media_type(data: bytes) -> str:
    found = uploads.sniff(data)
    return (
        MEDIA_TYPES.get(found[1], "application/octet-stream")
        if found
        else ("application/octet-stream")
    )


def png_bytes(pixels) -> bytes:
    from faceveil.io.images import encode_image

    return encode_image(pixels, ".png")


def wants_json(request: Request, fmt: str | None) -> bool:
    """JSON when ``?format=json`` or ``Accept: application/json`` (and no image preferred)."""
    if fmt:
        return fmt == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "image/" not in accept


__all__ = ["Body", "body_doc", "media_type", "png_bytes", "read_body", "wants_json"]


def file_store(request: Request):
    """The store's content-addressed files (``store.files``)."""
    store = getattr(request.app.state, "store", None)
    files = getattr(store, "files", None)
    if files is None:
        raise ApiError(503, "file storage is not ready")
    return files


def store_file(request: Request, data: bytes, suffix: str):
    """Store result bytes; a :class:`~faceveil.server.api.schemas.FileLink` to them."""
    from faceveil.server import retention
    from faceveil.server.api.schemas import FileLink

    sha = file_store(request).put(data, suffix)
    retention.sweep_due(request.app.state.store)  # results live settings.result_retention_hours
    return FileLink(sha=sha, url=f"/api/v1/files/{sha}", media_type=media_type(data))
