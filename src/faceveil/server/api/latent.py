"""Generative routes: generate, invert, mix, edit, and the directions behind the sliders.

``/edit`` backs the Synthesize page's sliders, so it must answer in well under 300 ms on a CPU:
the generator and its directions are cached by the library (loaded once per process), and the
single-latent decode runs on one torch thread. With two threads, a 64 px DCGAN decode waits
~200 ms on OpenMP barriers as soon as anything else keeps the cores busy (a training job, another
request); on one thread it takes ~5 ms either way.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from faceveil.errors import InputError
from faceveil.server import uploads
from faceveil.server.api import schemas as s
from faceveil.server.api.body import body_doc, read_body, store_file, wants_json
from faceveil.server.limits import run_heavy

router = APIRouter(tags=["synthesize"])
FORMAT = Query(None, pattern="^(image|json)$", description="json for JSON; default image or Accept")
IMAGE_OUT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/png": {}, "image/jpeg": {}, "application/json": {}},
        "description": "the image, or JSON with a link to it",
    }
}


@contextmanager
def one_thread():
    """Torch on one thread in this thread only (OpenMP's thread count is per thread)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _trained_models(request: Request | None) -> dict[str, str]:
    """Models trained in this studio: name -> the directory the store recorded."""
    store = getattr(request.app.state, "store", None) if request is not None else None
    if store is None:
        return {}
    from sqlalchemy import select

    from faceveil.server.models_db import ModelRecord

    with store.session() as s:
        rows = s.execute(select(ModelRecord.name, ModelRecord.path, ModelRecord.source)).all()
    return {r.name: r.path for r in rows if r.source == "trained" and r.path}


def model_ref(request: Request | None, model: str | None) -> str | None:
    """What the library loads for a request's `model`: a registered generator's name, or the
    directory of a model trained here (named by the client, found by the store); without
    one, the selected model. Anything else, a server path included, is 404; the message
    lists names only."""
    from faceveil.gen.registry import model_dirs
    from faceveil.server.errors import ApiError

    if not model:  # the model selected on the Models page, else the library's default
        store = getattr(request.app.state, "store", None) if request is not None else None
        return store.selected_generator() if store is not None else None
    known = model_dirs()
    if model in known:
        return model
    trained = _trained_models(request)
    if model in trained:
        return trained[model]
    names = ", ".join(sorted({*known, *trained})) or "none"
    if any(c in model for c in "/\\") or model.startswith((".", "~")):
        raise ApiError(404, f"no generator by that path: give a name (known: {names})")
    raise ApiError(404, f"no generator {model[:100]!r} (known: {names})")


def _generator(model: str | None, request: Request | None = None):
    from faceveil.gen.registry import get_generator

    return get_generator(model_ref(request, model))


def _encode(pixels: np.ndarray, image_format: str) -> tuple[bytes, str]:
    """Generated faces (RGB uint8, no metadata): PNG at zlib level 1, 3x faster than the
    default level for 35 % more bytes, or JPEG at quality 92."""
    import cv2

    suffix = ".jpg" if image_format == "jpeg" else ".png"
    param = [cv2.IMWRITE_JPEG_QUALITY, 92] if suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, buf = cv2.imencode(
        suffix, cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2BGR), param
    )
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {suffix} image")
    return buf.tobytes(), suffix


def _image_response(data: bytes, suffix: str) -> Response:
    return Response(data, media_type="image/jpeg" if suffix == ".jpg" else "image/png")


def _latent(values: list[float] | None, generator, label: str) -> np.ndarray | None:
    if values is None:
        return None
    z = np.asarray(values, np.float64)
    if z.shape != (generator.latent_dim,):
        raise InputError(
            f"{label} must have {generator.latent_dim} values for {generator.name}, got {z.size}"
        )
    if not np.isfinite(z).all() or np.abs(z).max() > 100:
        raise InputError(f"{label} must be finite numbers within +-100")
    return z.astype(np.float32)


def _face(generator, z: np.ndarray, size: int) -> np.ndarray:
    from faceveil.gen.upsample import upsample

    with one_thread():
        face = generator.decode(z)
    return face if size == generator.resolution else upsample(face, size)


@router.post(
    "/generate",
    response_model=s.GenerateResponse,
    responses=IMAGE_OUT,
    openapi_extra=body_doc(s.GenerateRequest),
)
async def generate(request: Request, format: str | None = FORMAT):  # noqa: A002
    """Synthetic faces of nobody: a grid image, or JSON with a link per face and its latent."""
    body = await read_body(request, s.GenerateRequest)
    o: s.GenerateRequest = body.options
    as_json = wants_json(request, format)

    def work():
        import faceveil
        from faceveil.gen.upsample import grid

        ref = model_ref(request, o.model)
        generator = _generator(o.model, request)
        faces = faceveil.generate(o.n, o.seed, model=ref, truncation=o.truncation, size=o.size)
        sheet, suffix = _encode(grid(faces, columns=o.columns), o.image_format)
        if not as_json:
            return _image_response(sheet, suffix)
        latents = generator.sample_latents(o.n, o.seed, o.truncation)  # the ones decoded above
        return s.GenerateResponse(
            model=generator.name,
            seed=o.seed,
            grid=store_file(request, sheet, suffix),
            images=[store_file(request, *_encode(f, o.image_format)) for f in faces],
            latents=latents.astype(np.float64).tolist(),
        )

    return await run_heavy(request, work)


@router.post(
    "/invert",
    response_model=s.InvertResponse,
    openapi_extra=body_doc(s.InvertRequest, ("file",), ("file",)),
)
async def invert(request: Request) -> s.InvertResponse:
    """The latent of the largest face in a photo (to start the sliders from), with links to
    the aligned face and its reconstruction."""
    body = await read_body(request, s.InvertRequest, ("file",))
    o: s.InvertRequest = body.options

    def work():
        import faceveil
        from faceveil.gen.upsample import upsample

        pixels = uploads.read_image_upload(body.file("file"), request.app.state.settings)
        generator = _generator(o.model, request)
        result = faceveil.invert(
            generator, pixels, method=o.method, steps=o.steps, restarts=o.restarts, seed=o.seed
        )
        d = result.to_dict()
        return s.InvertResponse(
            model=generator.name,
            z=result.z.astype(np.float64).tolist(),
            reconstruction=store_file(
                request, *_encode(upsample(result.reconstruction, o.size), "png")
            ),
            target=store_file(request, *_encode(upsample(result.target, o.size), "png")),
            method=d["method"],
            ssim=d["ssim"],
            identity_similarity=d["identity_similarity"],
            same_person=d["same_person"],
            face=d["face"],
            seconds=d["seconds"],
        )

    return await run_heavy(request, work)


def _latent_answer(request, generator, z, face, o, as_json, start):
    data, suffix = _encode(face, o.image_format)
    if not as_json:
        return _image_response(data, suffix)
    return s.LatentImageResponse(
        model=generator.name,
        z=np.asarray(z, np.float64).tolist(),  # exact: sent back, it draws the same face
        image=store_file(request, data, suffix),
        seconds=round(time.perf_counter() - start, 4),
    )


@router.post(
    "/mix",
    response_model=s.LatentImageResponse,
    responses=IMAGE_OUT,
    openapi_extra=body_doc(s.MixRequest),
)
async def mix(request: Request, format: str | None = FORMAT):  # noqa: A002
    """The face `alpha` of the way from A to B (spherical interpolation of the latents).
    A and B are latents (`z_a`, `z_b`, e.g. from /invert) or seeds (`seed_a`, `seed_b`)."""
    body = await read_body(request, s.MixRequest)
    o: s.MixRequest = body.options
    as_json = wants_json(request, format)

    def work():
        from faceveil.gen.mix import mix_latents

        start = time.perf_counter()
        generator = _generator(o.model, request)
        z_a = _latent(o.z_a, generator, "z_a")
        z_b = _latent(o.z_b, generator, "z_b")
        z_a = generator.sample_latents(1, o.seed_a)[0] if z_a is None else z_a
        z_b = generator.sample_latents(1, o.seed_b)[0] if z_b is None else z_b
        z = mix_latents(z_a, z_b, [o.alpha])[0]
        return _latent_answer(request, generator, z, _face(generator, z, o.size), o, as_json, start)

    return await run_in_threadpool(work)


@router.post(
    "/edit",
    response_model=s.LatentImageResponse,
    responses=IMAGE_OUT,
    openapi_extra=body_doc(s.EditRequest),
)
async def edit(request: Request, format: str | None = FORMAT):  # noqa: A002
    """Move a latent along named directions (amounts in standard deviations) and draw it: the
    slider update of the Synthesize page. Start from `z`, or from a preset (``random`` with
    `seed`, ``mean``, or a class average such as ``female`` or ``smiling``)."""
    body = await read_body(request, s.EditRequest)
    o: s.EditRequest = body.options
    as_json = wants_json(request, format)

    def work():
        from faceveil.gen.directions import load_directions

        start = time.perf_counter()
        generator = _generator(o.model, request)
        directions = load_directions(generator)
        z = _latent(o.z, generator, "z")
        if z is None:
            if o.preset == "face":
                raise InputError("the face preset needs a photo: POST it to /invert, then send z")
            z = directions.preset(o.preset, seed=o.seed)
        moved = directions.edit(z, o.changes, o.orthogonal)
        return _latent_answer(
            request, generator, moved, _face(generator, moved, o.size), o, as_json, start
        )

    return await run_in_threadpool(work)


@router.get("/directions", response_model=s.DirectionsResponse)
def directions(
    request: Request,
    model: str | None = Query(None, max_length=200, description="generator; default one"),
) -> s.DirectionsResponse:
    """The slider directions (raw dimensions, PCA components, attributes) and the start
    presets of a generator."""
    from faceveil.gen.directions import load_directions

    generator = _generator(model, request)
    d = load_directions(generator)
    info = generator.info
    return s.DirectionsResponse(
        model=generator.name,
        latent_dim=generator.latent_dim,
        resolution=generator.resolution,
        licence=info.licence,
        training_data=info.training_data,
        directions=[s.DirectionOut(name=n, kind=d.kind(n)) for n in d.names()],
        presets=d.preset_names(),
    )
