"""Filling a covered part of a face with a generated one that agrees with what is visible.

The face is aligned to the generator's landmark template. A latent z is optimised so that the
generated face matches the *visible* pixels of the aligned crop (masked L1 plus a prior on
``|z|``), starting from the encoder's guess for the crop with its hole filled by a classical
inpaint. The generated face is enlarged to the face's size, optionally smoothed by k-means
colour quantisation (the seed's option), its fine detail scaled by `detail`, colour-matched to
the visible skin and blended, by Laplacian pyramid, into a biharmonic fill of the hole (which
carries the light at the hole's edge, and fills what lies outside the generator's frame).
Pixels outside the covering mask are never changed.

Why `detail` < 1 (``bench/restore.py``): SSIM and PSNR inside the hole reward a guess for its
shading, which the generator gives better than classical inpainting, but punish sharp detail in
the wrong place (a mouth a few pixels off), which a generated mouth always is.

The filled region is a plausible guess, **not** the person's real face.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from faceveil.faces import Face
from faceveil.io.images import to_rgb8
from faceveil.restore.baselines import biharmonic

HONESTY = "the filled region is a plausible guess, not the person's real face"
STEPS = 80  # Adam steps of the masked latent optimisation
RESTARTS = 2  # starts optimised at once: the encoder's guess and random latents
LEARNING_RATE = 0.05
PRIOR_WEIGHT = 0.01  # on (|z|^2 / d - 1)^2, as gen.invert: z stays where the generator was trained
FIT_WIDEN = 1.3  # the face oval, widened, over which visible pixels are matched
HOLE_LEVEL = 0.02  # a crop pixel this much covered does not count as visible
EDGE = 0.06  # of the face's aligned size: blending ramp inside the hole's edge
RING = 0.01  # of the face's size: margin around the hole the classical fill treats as unknown
MAX_SIZE = 512  # px: the aligned face is never worked on larger than this
DETAIL = 0.4  # share of the generated face's fine detail kept (see the module docstring)
DETAIL_SIGMA = 0.05  # of the aligned face's side: what counts as fine detail
STEP_NAMES = ("generated", "smoothed", "mask", "result")
# Latent optimisation, not the conditional model of bench/conditional_model.py (it lost to synth).
FILL_METHOD = "latent optimisation on the visible pixels, blended over a biharmonic fill"


@dataclass
class Restored:
    """A face filled under its covering mask.

    image : (H, W, 3) uint8 RGB, equal to the input outside the mask.
    steps : the seed's four steps, uint8 RGB: ``generated`` (the raw generated face, aligned,
        at the face's size), ``smoothed`` (after k-means smoothing; the same when off),
        ``mask`` (the covering mask, white on black, image size), ``result`` (= image);
        ``generated`` and ``smoothed`` are None when nothing covers the face.
    report : JSON-ready: model picked and why, hole area, seconds, the honesty note.
    """

    image: np.ndarray
    steps: dict[str, np.ndarray | None] = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def aligned_size(matrix64: np.ndarray, res: int) -> int:
    """Side of the aligned crop at about the face's own scale (a power of two, res..512)."""
    zoom = 1.0 / np.sqrt(abs(np.linalg.det(matrix64[:, :2])))  # image px per crop px
    return int(min(MAX_SIZE, max(res, 2 ** np.ceil(np.log2(res * zoom)))))


def masked_latent(
    generator,
    encoder,
    target: np.ndarray,
    weight: np.ndarray,
    *,
    gray: bool = False,
    steps: int = STEPS,
    restarts: int = RESTARTS,
    seed: int = 0,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """The latent (d,) whose face best matches `target` (res, res, 3) uint8 where `weight`
    (res, res) in [0, 1] is high: Adam over `restarts` starts at once (`start` or the
    encoder's guess for `target`, then seeded random latents), lowest loss wins. `gray`
    compares luminance only (a grey photo says nothing of colour)."""
    import torch

    from faceveil.gen.base import to_tensor
    from faceveil.gen.encoder import encode

    torch.set_num_threads(1)  # small nets: a second thread costs more than it gives (replace.py)
    dev = generator.device
    starts = generator.sample_latents(restarts, seed=seed)
    if start is not None:
        starts[0] = start
    elif encoder is not None:
        starts[0] = encode(encoder, target)
    t = to_tensor(target[None], dev)
    w = torch.from_numpy(np.asarray(weight, np.float32))[None, None].to(dev)
    if gray:
        t = t.mean(1, keepdim=True)
    total = w.sum().clamp_min(1e-6) * t.shape[1]
    z = torch.from_numpy(starts).to(dev).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=LEARNING_RATE)

    def loss_of(z):
        x = generator.decode_tensor(z)
        if gray:
            x = x.mean(1, keepdim=True)
        fit = ((x - t).abs() * w).sum((1, 2, 3)) / total
        return fit + PRIOR_WEIGHT * (z.pow(2).mean(1) - 1.0) ** 2

    for _ in range(steps):
        loss = loss_of(z)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        loss = loss_of(z)
    return z.detach()[loss.argmin()].cpu().numpy().astype(np.float32)


def kmeans_smooth(face: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """`face` (H, W, 3) uint8 with every pixel replaced by the centre of its colour cluster
    (k-means with `k` clusters): the seed's flat-shaded look, and fewer GAN artefacts."""
    if k < 2:
        raise ValueError(f"smooth_k must be at least 2, got {k}")
    pixels = face.reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(pixels, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    return np.clip(np.rint(centres[labels.ravel()]), 0, 255).astype(np.uint8).reshape(face.shape)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def is_gray(rgb: np.ndarray) -> bool:
    spread = np.abs(rgb.astype(np.int16) - rgb.mean(axis=2, keepdims=True))
    return bool(spread.mean() < 2.0)


def soften(face: np.ndarray, detail: float, sigma: float) -> np.ndarray:
    """`face` with its detail finer than `sigma` px scaled by `detail` (1: unchanged)."""
    if detail >= 1.0:
        return face
    x = face.astype(np.float32)
    low = cv2.GaussianBlur(x, (0, 0), sigma)
    return np.clip(np.rint(low + detail * (x - low)), 0, 255).astype(np.uint8)


def inner_ramp(mask: np.ndarray, width: float) -> np.ndarray:
    """float32 alpha: 0 outside `mask` and at its edge, rising to 1 about `width` px inside,
    or halfway to the hole's middle for a thinner hole (a sunglasses lens still gets eyes)."""
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    width = min(width, 0.5 * float(inside.max()))
    return np.clip(inside / max(width, 1.0), 0.0, 1.0).astype(np.float32)


def fill_covering(
    image: np.ndarray,
    face: Face,
    mask: np.ndarray,
    *,
    model: str = "auto",
    smooth_k: int | None = None,
    seed: int = 0,
    detail: float = DETAIL,
    steps: int = STEPS,
    profile=None,
) -> Restored:
    """Fill the pixels of `mask` over `face` in `image` with a generated face.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB (other dtypes and channel counts are converted to it).
    face : the covered face (its five landmarks align it).
    mask : (H, W) bool, the covering pixels to replace; nothing else changes.
    model : a registered generator's name, or ``auto`` (the best metadata match, see
        :mod:`faceveil.restore.select`).
    smooth_k : k-means colour smoothing of the generated face with this many colours (None: off).
    seed : seeds the random starts of the latent search: the same seed, the same fill.
    detail : share of the generated face's fine detail kept, in [0, 1].
    steps : Adam steps of the latent search.
    profile : a :class:`~faceveil.restore.select.FaceProfile` already measured (optional).

    Returns
    -------
    :class:`Restored`. A face with an empty mask comes back unchanged (``generated`` and
    ``smoothed`` steps None, ``model`` None).
    """
    began = time.perf_counter()
    rgb = to_rgb8(image)
    mask = np.asarray(mask, bool)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask is {mask.shape}, the image {rgb.shape[:2]}")
    if smooth_k is not None and smooth_k < 2:
        raise ValueError(f"smooth_k must be at least 2, got {smooth_k}")
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    report: dict = {
        "note": HONESTY,
        "hole_pixels": int(mask.sum()),
        "smooth_k": smooth_k,
        "detail": detail,
        "method": FILL_METHOD,
    }
    mask_rgb = np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2)
    if not mask.any():
        report.update(model=None, why="nothing covers the face", seconds=0.0)
        steps_out = {"generated": None, "smoothed": None, "mask": mask_rgb, "result": rgb.copy()}
        return Restored(rgb.copy(), steps_out, report)

    from faceveil.restore.select import pick_generator

    generator, encoder, selection = pick_generator(rgb, face, mask, model, profile)
    report.update(selection.to_dict())
    generated, smoothed, out = _fill(
        rgb,
        face,
        mask,
        generator,
        encoder,
        smooth_k=smooth_k,
        seed=seed,
        detail=detail,
        steps=steps,
    )
    report["seconds"] = round(time.perf_counter() - began, 3)
    steps_out = {"generated": generated, "smoothed": smoothed, "mask": mask_rgb, "result": out}
    return Restored(out, steps_out, report)


def _warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def _fill(rgb, face, mask, generator, encoder, *, smooth_k, seed, detail, steps):
    """(generated face, smoothed face, result) for one face."""
    from faceveil.align import align_matrix, face_oval
    from faceveil.anonymize.blend import match_colour, pyramid_blend
    from faceveil.gen.upsample import upsample

    h, w = rgb.shape[:2]
    res, template = generator.resolution, generator.landmark_template
    m64 = align_matrix(face.landmarks, template)
    size = aligned_size(m64, res)
    matrix = m64 * (size / res)
    hole = mask.astype(np.float32)
    # The light at the hole's edge, and the fill outside the face. From a slightly larger hole:
    # a covering's soft edge leaks into the pixels around it, and biharmonic extends gradients.
    ring = max(2, round(RING * max(face.box[2:])))
    grown = (
        cv2.dilate(
            mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1,) * 2)
        )
        > 0
    )
    base = np.where(mask[..., None], biharmonic(rgb, grown), rgb)

    # Fit the generator to the visible pixels of the aligned crop (the hole, and what lies
    # outside the photo, do not count); the encoder starts from the crop with the hole filled.
    hole64 = (
        cv2.warpAffine(hole, m64, (res, res), flags=cv2.INTER_AREA, borderValue=1.0) > HOLE_LEVEL
    )
    inside64 = cv2.warpAffine(np.ones((h, w), np.float32), m64, (res, res)) > 0.99
    visible = (~hole64 & inside64).astype(np.float32)
    gray = is_gray(_warp(rgb, m64, res))
    prefill = _warp(base, m64, res)
    weight = face_oval(template, res, res, FIT_WIDEN) * visible
    z = masked_latent(generator, encoder, prefill, weight, gray=gray, steps=steps, seed=seed)
    face64 = generator.decode(z)
    generated = upsample(_gray(face64) if gray else face64, size)
    smoothed = kmeans_smooth(generated, smooth_k, seed) if smooth_k else generated

    # Blend in the aligned frame: colour from the visible skin, over the classical fill.
    crop, base_crop = _warp(rgb, matrix, size), _warp(base, matrix, size)
    hole_crop = cv2.warpAffine(hole, matrix, (size, size), flags=cv2.INTER_LINEAR) > 0.5
    oval = face_oval(template, res, size, FIT_WIDEN)
    near_hole = cv2.dilate(hole_crop.astype(np.uint8), np.ones((3, 3), np.uint8))
    new = match_colour(smoothed, crop, oval * (1.0 - near_hole))
    if gray:
        new = _gray(new)
    new = soften(new, detail, DETAIL_SIGMA * size)
    blended = pyramid_blend(base_crop, new, inner_ramp(hole_crop, EDGE * size) * oval)

    inverse = cv2.invertAffineTransform(matrix)
    back = cv2.warpAffine(
        blended, inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    support = cv2.warpAffine(np.ones((size, size), np.float32), inverse, (w, h))[..., None]
    mixed = np.rint(base * (1 - support) + back * support).astype(np.uint8)
    out = np.where(mask[..., None], mixed, rgb)  # strictly under the mask
    return generated, smoothed, out
