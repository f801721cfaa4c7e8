"""Uploads: multipart files or base64 strings, size-limited, sniffed by content.

The file name and the declared content type are never trusted: the first bytes decide whether an
upload is an image, a video or a zip (415 otherwise). Reading stops once
``settings.max_upload_bytes`` is passed (413), or when the body stalls (408). Images larger than
``settings.max_pixels`` are refused from their header (413); the rest are decoded by
:mod:`faceveil.io` (400 when corrupt).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
import time
from dataclasses import dataclass

import numpy as np

from faceveil.errors import InputError
from faceveil.server.errors import ApiError

CHUNK = 1 << 20
MIN_BODY_RATE = 16 * 1024  # bytes/s a request body must average (after the first timeout)
IMAGE_FORMATS = ("png", "jpeg", "webp", "gif", "bmp", "tiff")
VIDEO_FORMATS = ("mp4", "mov", "webm", "mkv", "avi")
# ISO-BMFF brands that are still images (HEIC/AVIF): faceveil cannot decode them.
_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis")
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.ASCII)


@dataclass(frozen=True)
class Media:
    """Upload bytes and what they are (by content)."""

    data: bytes
    kind: str  # "image" | "video" | "zip"
    format: str  # "png", "jpeg", ..., "mp4", "webm", ..., "zip"


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, format) from magic bytes, or None when the content is none of ours."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "gif"
    if head.startswith(b"BM") and len(data) >= 26:
        return "image", "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image", "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return "video", "mov" if brand == b"qt  " else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "webm" if b"webm" in data[:64] else "mkv"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "video", "avi"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip", "zip"
    return None


def _limit(settings) -> int:
    return int(settings.max_upload_bytes)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"upload too large (limit {limit / (1 << 20):.3g} MiB)")


def _from_base64(text: str, limit: int) -> bytes:
    text = _DATA_URL.sub("", text.strip(), count=1)
    if len(text) * 3 // 4 > limit + 3:  # don't decode what would be too large anyway
        raise _too_large(limit)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:  # browsers send URL-safe base64 sometimes
            data = base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            raise ApiError(400, "invalid base64 data") from None
    if len(data) > limit:
        raise _too_large(limit)
    return data


def read_upload_bytes(source, settings) -> bytes:
    """The bytes of an ``UploadFile``, a base64 string (or data URL), or raw bytes."""
    limit = _limit(settings)
    if source is None:
        raise ApiError(400, "no file given")
    if isinstance(source, str):
        data = _from_base64(source, limit)
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limit:
            raise _too_large(limit)
    elif hasattr(source, "file"):  # starlette/fastapi UploadFile
        if getattr(source, "size", None) and source.size > limit:
            raise _too_large(limit)
        fh = source.file
        fh.seek(0)
        parts, total = [], 0
        while chunk := fh.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            parts.append(chunk)
        data = b"".join(parts)
    else:
        raise ApiError(400, "expected a file upload or a base64 string")
    if not data:
        raise ApiError(400, "empty file")
    return data


def read_media(source, settings, kinds=("image", "video", "zip")) -> Media:
    """Read and sniff an upload; 415 unless its content is one of `kinds`."""
    data = read_upload_bytes(source, settings)
    found = sniff(data)
    if found is None or found[0] not in kinds:
        wanted = " or ".join(kinds)
        raise ApiError(415, f"unsupported content: expected {wanted} (checked by content)")
    return Media(data, *found)


def read_media_upload(source, settings, kinds=("image", "video", "zip")) -> tuple[bytes, str]:
    """(bytes, kind) of an upload; kind is "image", "video" or "zip"."""
    media = read_media(source, settings, kinds)
    return media.data, media.kind


def check_pixels(data: bytes, max_pixels: int | None) -> None:
    """InputError("image too large: ...") when the header of `data` declares more than
    `max_pixels`; Pillow reads only the header here, nothing is decoded."""
    if not max_pixels:
        return
    from PIL import Image

    from faceveil.io.images import too_large_message

    try:
        with Image.open(io.BytesIO(data)) as pil:
            size = pil.size
    except Image.DecompressionBombError:  # past Pillow's own hard limit
        raise InputError(f"image too large (max {max_pixels / 1e6:.3g} MP)") from None
    except Exception:  # not readable: the decoder says why
        return
    if size[0] * size[1] > max_pixels:
        raise InputError(too_large_message(*size, max_pixels))


def decode_image(media: Media, max_pixels: int | None = None) -> np.ndarray:
    """Upright pixels of an image upload: 413 over `max_pixels` (checked on the header,
    before decoding), 400 when corrupt."""
    from faceveil.io.images import MAX_PIXELS, read_image

    try:
        check_pixels(media.data, max_pixels)
    except InputError as exc:
        raise ApiError(413, str(exc)) from None
    try:
        return read_image(media.data, max_pixels=max_pixels or MAX_PIXELS)
    except InputError as exc:
        raise ApiError(400, str(exc).replace("image bytes: ", "image: ", 1)) from None


def read_image_with_format(source, settings) -> tuple[np.ndarray, str]:
    """(pixels, format) of an image upload; format is the sniffed one ("png", "jpeg", ...)."""
    media = read_media(source, settings, kinds=("image",))
    return decode_image(media, getattr(settings, "max_pixels", None)), media.format


def read_image_upload(source, settings) -> np.ndarray:
    """Upright pixels (RGB/RGBA/gray) of an image upload: 413 (bytes or pixels), 415 or 400
    otherwise."""
    return read_image_with_format(source, settings)[0]


def body_limit(settings) -> int:
    """The largest request body worth reading: a base64 upload (4/3) plus form overhead."""
    return _limit(settings) * 4 // 3 + (1 << 20)


class BodyLimitMiddleware:
    """413 as soon as a request body passes :func:`body_limit`, before it is all spooled; 408
    when a body stalls for ``settings.body_timeout_s``, or trickles in slower than
    :data:`MIN_BODY_RATE` on average past that time (slow clients do not hold a worker)."""

    def __init__(self, app, settings):
        self.app = app
        self.max = body_limit(settings)
        self.limit = _limit(settings)
        self.timeout = float(getattr(settings, "body_timeout_s", 0) or 0)

    async def _next(self, receive, deadline: float):
        """The next message; 408 when the client sends nothing for `timeout` seconds, or
        the body is not complete by `deadline` (monotonic seconds)."""
        if not self.timeout:
            return await receive()
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise asyncio.TimeoutError
            return await asyncio.wait_for(receive(), min(self.timeout, left))
        except asyncio.TimeoutError:
            slow = time.monotonic() >= deadline
            why = "too slow" if slow else f"nothing received for {self.timeout:g} s"
            raise ApiError(
                408, f"request body timed out ({why})", headers={"Connection": "close"}
            ) from None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max:
            return await self._reject(send)
        seen = 0
        started = False
        body_done = False
        expected = int(declared) if declared is not None and declared.isdigit() else self.max
        deadline = time.monotonic() + self.timeout + expected / MIN_BODY_RATE

        async def counting_receive():
            nonlocal seen, body_done
            if body_done:  # later reads wait for a disconnect: no timeout on those
                return await receive()
            message = await self._next(receive, deadline)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max:
                    raise _too_large(self.limit)
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except ApiError as exc:
            if exc.status not in (408, 413) or started:
                raise
            await self._reject(send, exc)

    async def _reject(self, send, exc: ApiError | None = None):
        from faceveil.server.errors import error_response

        exc = exc or _too_large(self.limit)
        response = error_response(exc.status, exc.message, {"Connection": "close"})
        await send(
            {"type": "http.response.start", "status": exc.status, "headers": response.raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})
