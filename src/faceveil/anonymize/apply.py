"""Apply a method to every face of one image through its feathered region mask."""

from __future__ import annotations

import dataclasses

import numpy as np

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.regions import face_region
from faceveil.anonymize.registry import FALLBACK_METHOD, Fallback, get_method
from faceveil.anonymize.state import RunState
from faceveil.faces import Face


def _blend(roi: np.ndarray, filtered: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """roi*(1-alpha) + filtered*alpha, exact where alpha is 0; alpha channels are kept."""
    colour = roi if roi.ndim == 2 or roi.shape[2] < 4 else roi[:, :, :3]
    new = filtered if filtered.ndim == 2 or filtered.shape[2] < 4 else filtered[:, :, :3]
    a = alpha if colour.ndim == 2 else alpha[:, :, None]
    mixed = colour.astype(np.float32) * (1.0 - a) + new.astype(np.float32) * a
    if roi.dtype.kind != "f":
        info = np.iinfo(roi.dtype)
        mixed = np.clip(np.rint(mixed), info.min, info.max)
    mixed = np.where(a > 0, mixed.astype(roi.dtype), colour)
    out = roi.copy()
    if out.ndim == 3 and out.shape[2] == 4:
        out[:, :, :3] = mixed
    else:
        out[...] = mixed
    return out


def apply_to_faces(
    image: np.ndarray,
    faces: list[Face],
    options: AnonymizeOptions,
    notes: list[str] | None = None,
    details: list[dict] | None = None,
    run: RunState | None = None,
) -> np.ndarray:
    """A copy of `image` with `options.method` applied to each face; the input is unchanged.

    A face the method cannot handle gets the fallback method (blur) instead, never nothing;
    why goes to `notes`, if given. What a reporting method (``attributes``) did to each face
    goes to `details`, with the face's box. `run` is the memory of a video run (each track
    keeps its replacement); a single image gets a fresh one.
    """
    method = get_method(options.method)
    run = run if run is not None else RunState()
    out = image.copy()
    if not method.composited:  # it draws: on the colour channels only, alpha is kept
        rgba = out.ndim == 3 and out.shape[2] == 4
        canvas = np.ascontiguousarray(out[:, :, :3]) if rgba else out
        for face in faces:
            method.fn(canvas, face, options)
        if rgba:
            out[:, :, :3] = canvas
        return out
    for face in faces:
        run.check("between faces")  # a long method (cloak: seconds a face) stops early
        region = face_region(
            face,
            out.shape,
            shape=options.shape,
            mask_scale=options.mask_scale,
            feather=options.feather,
        )
        if region is None:
            continue
        ys, xs = region.slices
        roi = out[ys, xs]
        x, y, w, h = face.box
        local = dataclasses.replace(
            face,
            box=(x - region.x0, y - region.y0, w, h),
            landmarks=face.landmarks - np.array([region.x0, region.y0], np.float32),
        )
        info: dict = {}
        context: dict = {"info": info} if method.reports else {}
        if method.stateful:
            context["run"] = run
        try:
            new = method.fn(roi, local, options, **context)
        except Fallback as why:
            new = get_method(FALLBACK_METHOD).fn(roi, local, options)
            if notes is not None:
                x, y, w, h = (round(v) for v in face.box)
                notes.append(
                    f"face at ({x}, {y}, {w}, {h}): {FALLBACK_METHOD} instead of "
                    f"{options.method} ({why})"
                )
        if info and details is not None:
            details.append({"box": [round(float(v), 1) for v in face.box], **info})
        out[ys, xs] = _blend(roi, new, region.alpha)
    return out
