"""Inversion: the latent z whose face, decoded by a generator, best matches a face in a photo.

The largest face is detected, aligned to the generator's landmark template (the crop the
generator would draw it in), and then z is found in one of two ways:

- ``encoder``: one forward pass of the amortised encoder stored with the model
  (:mod:`faceveil.gen.encoder`); fast, rough;
- ``optimize``: Adam over z from several starts. A search phase minimises the L1 pixel error of
  every start at once plus a prior that keeps ``|z|^2`` near ``latent_dim`` (z stays where the
  generator was trained); the start with the lowest loss then goes on alone through a refine
  phase that adds an identity term, ``1 - cosine`` of SFace embeddings of target and
  reconstruction (a differentiable SFace, :mod:`faceveil.models.sface_torch`). The identity term
  is what makes a real person recognisable in the reconstruction; it is costly (an SFace pass
  per step), hence only on the best start.

``auto`` is the encoder's prediction as one of the starts of ``optimize`` (reported as
``encoder+optimize``), or plain ``optimize`` for a model without an encoder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from skimage.metrics import structural_similarity

from faceveil.align import align_face, largest_face
from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_face
from faceveil.analysis.verify import describe
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.gen.base import Generator, to_tensor
from faceveil.gen.choices import INVERT_METHODS
from faceveil.gen.encoder import encode, load_encoder
from faceveil.io.images import read_image, to_rgb8
from faceveil.models.sface_torch import IdentityEmbedder

METHODS = INVERT_METHODS
LEARNING_RATE = 0.05
PRIOR_WEIGHT = 0.01  # on (|z|^2 / d - 1)^2
IDENTITY_WEIGHT = 0.3  # on 1 - cosine, against an L1 pixel error in [-1, 1] units
SEARCH_SHARE = 0.7  # of the steps spent on all starts; the rest refines the best one
EVAL_SIDE = 256  # crops are upscaled to this for detection and SFace when scoring identity


@dataclass
class InversionResult:
    """A face found in a photo, its latent, and how well the latent reproduces it."""

    z: np.ndarray  # (latent_dim,) float32
    reconstruction: np.ndarray  # (res, res, 3) uint8 = generator.decode(z)
    target: np.ndarray  # (res, res, 3) uint8, the face aligned to the generator's template
    face: Face | None  # the face found in the input (None when aligned=True)
    matrix: np.ndarray | None  # 2x3 map from input pixels to target pixels (None when aligned)
    ssim: float  # SSIM(target, reconstruction)
    identity_similarity: float | None  # SFace cosine(target, reconstruction); None: no face
    seconds: float
    method: str  # "encoder", "optimize" or "encoder+optimize"

    @property
    def same_person(self) -> bool | None:
        """Whether SFace takes the reconstruction for the person in the target."""
        sim = self.identity_similarity
        return None if sim is None else sim >= SFACE_THRESHOLD

    def to_dict(self) -> dict:
        sim = self.identity_similarity
        return {
            "method": self.method,
            "ssim": round(self.ssim, 4),
            "identity_similarity": None if sim is None else round(sim, 4),
            "same_person": self.same_person,
            "threshold": SFACE_THRESHOLD,
            "seconds": round(self.seconds, 3),
            "face": None if self.face is None else self.face.to_dict(),
            "matrix": None if self.matrix is None else np.round(self.matrix, 5).tolist(),
            "z": [round(float(v), 5) for v in self.z],
        }


def aligned_target(
    generator: Generator, image, *, aligned: bool = False
) -> tuple[np.ndarray, Face | None, np.ndarray | None]:
    """The face of `image` as the generator would draw it: ``(crop, face, matrix)``.

    With ``aligned=True`` the image must already be such a (res, res) crop.
    Raises InputError when there is no face, or the generator has no landmark template.
    """
    rgb = to_rgb8(read_image(image))
    res = generator.resolution
    if aligned:
        if rgb.shape[:2] != (res, res):
            raise InputError(
                f"an aligned face for {generator.name} must be {res}x{res}, got "
                f"{rgb.shape[1]}x{rgb.shape[0]}"
            )
        return rgb, None, None
    template = generator.landmark_template
    if template is None:
        raise InputError(
            f"generator {generator.name} has no landmark template; measure one with "
            "faceveil.align.store_landmark_template, or pass aligned crops"
        )
    face = largest_face(rgb)
    if face is None:
        raise InputError(f"{describe(image)}: no face found")
    crop, matrix = align_face(rgb, face, template, res)
    return crop, face, matrix


def crop_embedding(crop: np.ndarray) -> np.ndarray | None:
    """SFace embedding of the largest face YuNet finds in an aligned crop, or None.

    The crop is upscaled and framed in grey: faces that fill a 64 px frame are otherwise
    missed by the detector and too small for SFace.
    """
    side = EVAL_SIDE
    big = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = side // 4
    canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128,) * 3)
    faces = detect(canvas, small_faces=False, max_side=None, recall="fast")
    if not faces:
        return None
    return embed_face(canvas, max(faces, key=lambda f: f.box[2] * f.box[3]))


def identity_similarity(a: np.ndarray, b: np.ndarray) -> float | None:
    """SFace cosine between the faces in two aligned crops; None if either has no face."""
    ea, eb = crop_embedding(a), crop_embedding(b)
    return None if ea is None or eb is None else cosine(ea, eb)


def _loss(generator: Generator, z: torch.Tensor, target: torch.Tensor):
    """Per-start loss: L1 pixel error plus the latent prior; and the decoded faces."""
    x = generator.decode_tensor(z)
    prior = (z.pow(2).mean(1) - 1.0) ** 2
    return (x - target).abs().mean((1, 2, 3)) + PRIOR_WEIGHT * prior, x


def optimize_latent(
    generator: Generator,
    target: np.ndarray,
    starts: np.ndarray,
    steps: int,
) -> np.ndarray:
    """Adam over z from `starts` (R, d); returns the best latent (d,) float32.

    The first ``SEARCH_SHARE`` of `steps` optimise every start on pixels and the prior; the
    rest refine the lowest-loss start with the identity term added. A generator without a
    landmark template (to align SFace's input with) spends every step on the search.
    """
    dev = generator.device
    t = to_tensor(target[None], dev)
    z = torch.from_numpy(np.asarray(starts, np.float32)).to(dev).requires_grad_(True)
    template = generator.landmark_template
    search = steps if template is None else round(steps * SEARCH_SHARE)
    opt = torch.optim.Adam([z], lr=LEARNING_RATE)
    for _ in range(search):
        loss, _ = _loss(generator, z, t)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        loss, _ = _loss(generator, z, t)
    z = z.detach()[loss.argmin()][None].clone()
    if template is not None and steps > search:  # no template: search took every step
        embed = IdentityEmbedder(template, generator.resolution, dev)
        with torch.no_grad():
            target_id = embed(t)
        z.requires_grad_(True)
        opt = torch.optim.Adam([z], lr=LEARNING_RATE / 2)
        for _ in range(steps - search):
            loss, x = _loss(generator, z, t)
            loss = loss + IDENTITY_WEIGHT * (1.0 - (embed(x) * target_id).sum(1))
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
    return z.detach()[0].cpu().numpy().astype(np.float32)


def invert(
    generator: Generator,
    image,
    *,
    method: str = "auto",
    steps: int = 200,
    restarts: int = 4,
    seed: int = 0,
    aligned: bool = False,
) -> InversionResult:
    """Find the latent of the largest face in `image`.

    Parameters
    ----------
    generator : a :class:`~faceveil.gen.base.Generator`.
    image : path, encoded bytes or array (RGB/RGBA/gray).
    method : ``auto`` (encoder start then optimisation, or optimisation alone for a model
        without an encoder), ``encoder``, ``optimize`` (random starts only) or
        ``encoder+optimize``.
    steps : Adam steps of the optimisation.
    restarts : starts optimised at once; the lowest final loss wins. With the encoder, its
        prediction is one of them.
    seed : seeds the random starts: the same seed gives the same result.
    aligned : `image` is already a (res, res) crop aligned to the generator's template.

    Returns
    -------
    InversionResult. Raises InputError when no face is found.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if steps < 0 or restarts < 1:
        raise InputError(f"need steps >= 0 and restarts >= 1, got {steps} and {restarts}")
    start = time.perf_counter()
    target, face, matrix = aligned_target(generator, image, aligned=aligned)
    encoder = load_encoder(generator) if method != "optimize" else None
    if encoder is None and method in ("encoder", "encoder+optimize"):
        raise InputError(f"generator {generator.name} has no encoder; use method='optimize'")
    if method == "auto":
        method = "optimize" if encoder is None else "encoder+optimize"
    if method == "encoder":
        assert encoder is not None  # refused above when missing
        z = encode(encoder, target)
    else:
        starts = generator.sample_latents(restarts, seed=seed)
        if encoder is not None:
            starts[0] = encode(encoder, target)
        z = optimize_latent(generator, target, starts, steps)
    reconstruction = generator.decode(z)
    return InversionResult(
        z=z,
        reconstruction=reconstruction,
        target=target,
        face=face,
        matrix=matrix,
        ssim=float(structural_similarity(target, reconstruction, channel_axis=2)),
        identity_similarity=identity_similarity(target, reconstruction),
        seconds=time.perf_counter() - start,
        method=method,
    )
