"""Mixing two faces: invert both, then walk between their latents.

Latents are interpolated on the sphere (slerp), not on the straight line. The generator was
trained on Gaussian latents, which sit near the shell ``|z| ~ sqrt(latent_dim)``, and the
inversion's prior term keeps inverted latents close to it. Two such latents are nearly
orthogonal in 100 dimensions, so their straight-line midpoint has only about 0.7 of that norm:
it is pulled towards z = 0, the mean face; slerp midpoints keep the norm (``bench/inversion.py
--mix``). The endpoints are exact: ``alpha=0`` decodes to A's latent, ``alpha=1`` to B's.
"""

from __future__ import annotations

import numpy as np

from faceveil.errors import InputError
from faceveil.gen.base import Generator
from faceveil.gen.invert import InversionResult, invert
from faceveil.gen.upsample import grid, upsample


def slerp(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """Spherical interpolation from `a` (alpha 0) to `b` (alpha 1), float32.

    Falls back to the straight line when the two are (anti)parallel and the arc is undefined.
    """
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    cos = float(a64 @ b64 / max(float(na * nb), 1e-12))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return ((1.0 - alpha) * a64 + alpha * b64).astype(np.float32)
    wa = np.sin((1.0 - alpha) * omega) / np.sin(omega)
    wb = np.sin(alpha * omega) / np.sin(omega)
    return (wa * a64 + wb * b64).astype(np.float32)


def _inverted(generator: Generator, face, options: dict) -> InversionResult:
    return face if isinstance(face, InversionResult) else invert(generator, face, **options)


def _resize(faces: np.ndarray, size: int | None, sharpen: float) -> np.ndarray:
    return faces if size is None else upsample(faces, size, sharpen=sharpen)


def mix_latents(z_a: np.ndarray, z_b: np.ndarray, alphas) -> np.ndarray:
    """(len(alphas), d) latents between `z_a` and `z_b`; each alpha must be in [0, 1]."""
    alphas = [float(t) for t in np.atleast_1d(alphas)]
    if not all(0.0 <= t <= 1.0 for t in alphas):
        raise InputError(f"alpha must be in [0, 1], got {alphas}")
    return np.stack([slerp(z_a, z_b, t) for t in alphas])


def mix(
    generator: Generator,
    a,
    b,
    alpha: float = 0.5,
    *,
    size: int | None = None,
    sharpen: float = 0.5,
    **invert_options,
) -> np.ndarray:
    """The face `alpha` of the way from face `a` to face `b`.

    Parameters
    ----------
    generator : the generator whose latent space is walked.
    a, b : photos (path, bytes or array; their largest face is inverted) or
        :class:`~faceveil.gen.invert.InversionResult` s, reused as they are.
    alpha : 0 gives A's reconstruction, 1 gives B's.
    size : side of the output in pixels (upsampled by :func:`faceveil.gen.upsample.upsample`);
        the generator's resolution when None.
    sharpen : unsharp amount of the upsampling.
    **invert_options : passed to :func:`faceveil.gen.invert.invert` (method, steps, ...).

    Returns
    -------
    (size, size, 3) uint8 RGB. Raises InputError when a photo has no face.
    """
    z = mix_latents(
        _inverted(generator, a, invert_options).z,
        _inverted(generator, b, invert_options).z,
        [alpha],
    )
    return _resize(generator.decode(z), size, sharpen)[0]


def mix_strip(
    generator: Generator,
    a,
    b,
    n: int = 7,
    *,
    size: int | None = None,
    sharpen: float = 0.5,
    gap: int = 2,
    **invert_options,
) -> np.ndarray:
    """`n` faces from `a` to `b` at evenly spaced alphas, tiled left to right in one image.

    Arguments as in :func:`mix`; `gap` is the white margin between faces in pixels. Returns an
    (side, n * side + (n - 1) * gap, 3) uint8 RGB strip whose first face is A's
    reconstruction and whose last is B's.
    """
    if n < 2:
        raise InputError(f"a strip needs at least 2 faces, got {n}")
    z = mix_latents(
        _inverted(generator, a, invert_options).z,
        _inverted(generator, b, invert_options).z,
        np.linspace(0.0, 1.0, n),
    )
    return grid(_resize(generator.decode(z), size, sharpen), columns=n, gap=gap)
