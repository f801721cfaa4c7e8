"""How good a face generator is: detectable, realistic, varied.

Three numbers, all from the models faceveil already ships (no Inception weights do, so there is
no true FID):

- **detection rate**: the share of samples in which YuNet finds a face; each sample is
  enlarged to 128 px (2x for a 64 px model) inside a grey border of half that, as
  :func:`faceveil.align.measure_landmark_template` does;
- **Fréchet distance** between the SFace identity embeddings (128-d) of the detected samples and
  of a reference set of real faces: the FID formula on a face recogniser's features. Lower is
  closer. Like FID it is biased upwards by small sets, so compare generators at the same `n`
  and reference. The distance between two random halves of the reference set is reported as a
  floor: what sampling noise alone gives at about these sizes;
- **diversity**: the mean identity distance (1 - cosine) between pairs of samples, in [0, 2];
  about 1 means unrelated faces, near 0 that the generator draws the same person again
  (mode collapse). The reference set's own value is given for comparison.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.linalg

from faceveil.analysis.identity import embed_face
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.gen.base import Generator
from faceveil.gen.prepare import dataset_files
from faceveil.gen.registry import get_generator
from faceveil.io.images import read_image, to_rgb8
from faceveil.io.orl import load_orl

CROP_SIDE = 128  # crops are enlarged to this before detection (2x for 64 px models)


@dataclass
class GeneratorMetrics:
    """The scores of one generator against one reference set; None where too few faces."""

    generator: str
    n: int  # samples drawn
    detection_rate: float
    frechet_distance: float | None
    reference_floor: float | None  # the distance between two halves of the reference
    diversity: float | None
    reference_diversity: float
    reference: str
    n_reference: int  # reference faces embedded
    seconds: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def embed_crops(images: Iterable[np.ndarray]) -> np.ndarray:
    """SFace embeddings of face crops ((N, H, W, 3) array or list of (H, W, 3)) uint8, one row
    per crop where YuNet finds a face: each crop is enlarged to 128 px and framed by a 64 px
    grey border first."""
    out = []
    pad = CROP_SIDE // 2
    for img in images:
        interp = cv2.INTER_CUBIC if img.shape[0] < CROP_SIDE else cv2.INTER_AREA
        big = cv2.resize(img, (CROP_SIDE, CROP_SIDE), interpolation=interp)
        canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128,) * 3)
        faces = detect(canvas, small_faces=False, max_side=None, recall="fast")
        if faces:
            out.append(embed_face(canvas, faces[0]))
    return np.asarray(out, np.float32).reshape(-1, 128)


@functools.lru_cache(maxsize=1)
def _orl_embeddings() -> np.ndarray:
    """Embeddings of the 400 ORL faces, upscaled 2x (largest face of each)."""
    embs = []
    for _, img in load_orl(2.0):
        faces = detect(img, small_faces=False, recall="fast")
        if faces:
            embs.append(embed_face(img, max(faces, key=lambda f: f.box[2] * f.box[3])))
    return np.asarray(embs, np.float32)


def reference_embeddings(reference: str | Path) -> np.ndarray:
    """Embeddings of a reference set: ``"orl"`` (the 400 AT&T/ORL faces) or a dataset folder
    of face crops, as ``faceveil prepare`` makes them."""
    if str(reference) == "orl":
        return _orl_embeddings()
    crops = []
    for path in dataset_files(reference):
        try:
            crops.append(to_rgb8(read_image(path)))
        except InputError:
            continue  # a reference set is a sample: a bad file does not change its meaning
    return embed_crops(crops)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of vectors (rows), >= 0.

    ||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)), as in FID. With fewer samples than
    dimensions the covariances are singular; a tiny ridge then keeps the square root finite.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two sets of >= 2 vectors of one size, got {a.shape}, {b.shape}")
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(ca @ cb)
    if not np.isfinite(root).all():
        ridge = np.eye(len(ca)) * 1e-6
        root = scipy.linalg.sqrtm((ca + ridge) @ (cb + ridge))
    root = np.real(root)  # rounding leaves tiny imaginary parts
    d = float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * root))
    return max(d, 0.0)


def mean_pairwise_distance(embeddings: np.ndarray) -> float:
    """Mean of 1 - cosine over all pairs of rows, in [0, 2]."""
    e = np.asarray(embeddings, np.float64)
    if len(e) < 2:
        raise ValueError("need at least two embeddings")
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    sims = e @ e.T
    n = len(e)
    return float(np.clip(1.0 - (sims.sum() - np.trace(sims)) / (n * (n - 1)), 0.0, 2.0))


def evaluate_generator(
    generator: Generator | str | Path | None = None,
    n: int = 500,
    reference: str | Path = "orl",
    seed: int = 0,
) -> GeneratorMetrics:
    """Detection rate, Fréchet distance to `reference` and diversity of `n` samples.

    Parameters
    ----------
    generator : a Generator, or a registered name or model directory (default ``dcgan64``).
    n : samples to draw (seeded with `seed`).
    reference : ``"orl"`` (the 400 AT&T/ORL faces) or a dataset folder of face crops.
    seed : seeds the samples and the random halving of the reference.

    Returns
    -------
    GeneratorMetrics; the distance and diversity are None when fewer than two samples show a
    detectable face.
    """
    start = time.perf_counter()
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if not isinstance(generator, Generator):
        generator = get_generator(generator)
    ref = reference_embeddings(reference)
    if len(ref) < 4:
        raise InputError(f"{reference}: fewer than 4 reference faces detected; need more")
    half = np.random.default_rng(seed).permutation(len(ref)) < len(ref) // 2
    fake = embed_crops(generator.sample(n, seed=seed))
    enough = len(fake) >= 2
    return GeneratorMetrics(
        generator=generator.name,
        n=n,
        detection_rate=len(fake) / n,
        frechet_distance=frechet_distance(fake, ref) if enough else None,
        reference_floor=frechet_distance(ref[half], ref[~half]),
        diversity=mean_pairwise_distance(fake) if enough else None,
        reference_diversity=mean_pairwise_distance(ref),
        reference="ORL faces (AT&T, 400 images)" if str(reference) == "orl" else str(reference),
        n_reference=len(ref),
        seconds=time.perf_counter() - start,
    )
