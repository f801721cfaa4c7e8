"""Reading and writing still images.

Pixels are decoded with OpenCV, which keeps 16-bit depth and alpha; EXIF orientation is read
with Pillow and applied here, so every array faceveil handles is upright. Arrays are RGB(A)
in channel-last order, like scikit-image.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from faceveil.errors import InputError, OutputError
from faceveil.io.atomic import atomic_output

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".bmp", ".webp")
_PIL_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
_EXIF_ORIENTATION = 0x0112
# Refuse decompression bombs from the header, before decoding. Below Pillow's own hard stop
# (2 x Image.MAX_IMAGE_PIXELS = 179 MP), so images that large get this message, not Pillow's.
MAX_PIXELS = 150_000_000


@dataclass
class LoadedImage:
    """An upright image and the metadata it came with."""

    pixels: np.ndarray  # (H, W[, C]) RGB/RGBA/gray, uint8 or uint16
    exif: bytes | None = None  # with orientation reset to 1
    icc_profile: bytes | None = None
    extra: dict = field(default_factory=dict)


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an array."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(pixels)) if op else pixels


def too_large_message(width: int, height: int, max_pixels: int, what: str = "image") -> str:
    """``image too large: W x H = N MP (max M MP)`` (`what`: "image", "video frames")."""
    mp = width * height / 1e6
    return f"{what} too large: {width} x {height} = {mp:.3g} MP (max {max_pixels / 1e6:.3g} MP)"


def _decode(data: bytes, name: str, max_pixels: int | None = MAX_PIXELS) -> LoadedImage:
    if not data:
        raise InputError(f"{name}: empty file")
    try:
        with Image.open(io.BytesIO(data)) as pil:  # reads the header only
            if max_pixels and pil.width * pil.height > max_pixels:
                raise InputError(f"{name}: {too_large_message(*pil.size, max_pixels)}")
            pil.verify()
        with Image.open(io.BytesIO(data)) as pil:
            exif = pil.getexif()
            orientation = int(exif.get(_EXIF_ORIENTATION, 1))
            if _EXIF_ORIENTATION in exif:
                exif[_EXIF_ORIENTATION] = 1
            exif_bytes = exif.tobytes() if len(exif) else None
            icc = pil.info.get("icc_profile")
    except InputError:  # ours, above: not to be re-worded as corruption (it is a ValueError)
        raise
    except Image.DecompressionBombError as exc:  # over Pillow's own limit, checked at open
        limit = max_pixels or 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise InputError(f"{name}: image too large (max {limit / 1e6:.3g} MP)") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{name}: not an image file") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{name}: corrupt image ({exc})") from exc
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise InputError(f"{name}: corrupt or unsupported image")
    if pixels.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
        pixels = cv2.cvtColor(pixels, code)
    return LoadedImage(_orient(pixels, orientation), exif_bytes, icc)


def load_image(
    source: str | Path | bytes | np.ndarray, max_pixels: int | None = MAX_PIXELS
) -> LoadedImage:
    """Load a path, encoded bytes or an array into an upright :class:`LoadedImage`.

    Encoded images of more than `max_pixels` (width x height, read from the header) are
    refused with :class:`InputError` before they are decoded; None lifts the limit.
    """
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or source.size == 0:
            raise InputError(f"expected an (H, W[, C]) image array, got shape {source.shape}")
        return LoadedImage(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(bytes(source), "image bytes", max_pixels)
    path = Path(source)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _decode(data, str(path), max_pixels)


def read_image(
    source: str | Path | bytes | np.ndarray, max_pixels: int | None = MAX_PIXELS
) -> np.ndarray:
    """Upright pixels of an image (RGB/RGBA/gray, uint8 or uint16); see :func:`load_image`."""
    return load_image(source, max_pixels).pixels


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) RGB uint8 view of any supported image, for the models.

    Grayscale is replicated, alpha is dropped, 16-bit is scaled down and floats in [0, 1] are
    scaled up.
    """
    img = _to_uint8_keep_channels(np.asarray(image))
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    raise InputError(
        f"unsupported image shape {img.shape}; expected (H, W), (H, W, 3) or (H, W, 4)"
    )


def encode_image(
    pixels: np.ndarray,
    suffix: str,
    *,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    quality: int = 95,
) -> bytes:
    """Encode pixels for a file extension. Metadata is written only when given."""
    suffix = suffix.lower()
    if suffix not in _PIL_FORMATS:
        raise OutputError(
            f"cannot write {suffix or 'files without an extension'}; "
            f"use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    img = pixels
    if img.dtype != np.uint8 and (suffix in _EIGHT_BIT_ONLY or img.dtype != np.uint16):
        img = _to_uint8_keep_channels(img)
    if img.ndim == 3 and img.shape[2] == 4 and suffix in (".jpg", ".jpeg"):
        img = img[:, :, :3]
    if img.dtype == np.uint16:  # Pillow cannot write 16-bit colour: OpenCV does (no metadata)
        bgr = img
        if img.ndim == 3:
            code = cv2.COLOR_RGBA2BGRA if img.shape[2] == 4 else cv2.COLOR_RGB2BGR
            bgr = cv2.cvtColor(img, code)
        ok, buf = cv2.imencode(suffix, bgr)
        if not ok:
            raise OutputError(f"OpenCV could not encode a 16-bit {suffix} image")
        return buf.tobytes()
    pil = Image.fromarray(np.ascontiguousarray(img))
    kwargs: dict = {}
    if exif:
        kwargs["exif"] = exif
    if icc_profile:
        kwargs["icc_profile"] = icc_profile
    if suffix in (".jpg", ".jpeg", ".webp"):
        kwargs["quality"] = quality
    out = io.BytesIO()
    pil.save(out, format=_PIL_FORMATS[suffix], **kwargs)
    return out.getvalue()


def _to_uint8_keep_channels(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if img.dtype.kind == "f":
        return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if img.dtype == bool:
        return img.astype(np.uint8) * 255
    raise InputError(f"unsupported image dtype {img.dtype}; use uint8, uint16 or float")


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    metadata: LoadedImage | None = None,
    quality: int = 95,
) -> Path:
    """Write atomically. Metadata (EXIF, ICC) is copied from `metadata` only when it is given."""
    path = Path(path)
    data = encode_image(
        pixels,
        path.suffix,
        exif=metadata.exif if metadata else None,
        icc_profile=metadata.icc_profile if metadata else None,
        quality=quality,
    )
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path
