"""Latent directions: what the sliders move.

Every direction is a unit vector in z, with a name and a kind:

- ``raw``: ``dim_<i>``, one latent dimension (made on the fly, not stored);
- ``pca``: ``pc<i>``, GANSpace-style principal components of the generator's real variation.
  PCA runs on the activations after the generator's first block, and each component is mapped
  back to z by linear regression, as GANSpace does for BigGAN. Components that no z direction
  reproduces (regression R^2 below 0.5, made by the ReLU) are skipped, and the kept ones are
  made orthogonal in order of explained variance, so two PC sliders never move the same way;
- ``attribute``: ``age`` (+ is older), ``gender`` (+ is more female, - more male) and ``smile``
  (+ is more smiling), InterFaceGAN-style. A few thousand samples are labelled by faceveil's own
  age, gender and expression models, a logistic boundary is fitted in z between the top and
  bottom 30 % of each score, and the direction is its normal;
- ``orthogonal``: ``age_orthogonal`` ... the attribute directions with the other two attributes'
  normals projected out, so that moving one attribute changes the others less. :meth:`edit` and
  ``faceveil edit`` use these for ``age``, ``gender`` and ``smile`` unless told otherwise.

Amounts are in z units. z ~ N(0, I) and the vectors are unit, so one unit is one standard
deviation of the generator's latent distribution along the direction: +2 moves a face as far as
a sample two standard deviations out along it, and +-3 covers nearly all samples.

Presets (starting latents) are described in :mod:`faceveil.gen.presets`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from faceveil.errors import InputError
from faceveil.gen import presets as _presets
from faceveil.gen.base import DIRECTIONS_FILE, Generator

ATTRIBUTES = ("age", "gender", "smile")
EXTREME_SHARE = 0.3  # top and bottom share of each score the boundary separates
MIN_LINEARITY = 0.5  # R^2 a PCA component's z regression needs to become a slider
MIN_LABELLED = 200  # fewer labelled samples: no attribute directions (a weak model)


@dataclass
class Directions:
    """The directions and presets of one generator (see the module docstring).

    Get one with :func:`load_directions`; :func:`fit_directions` makes a new one.
    """

    latent_dim: int
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # name -> unit (d,)
    kinds: dict[str, str] = field(default_factory=dict)  # name -> pca, attribute, orthogonal
    presets: dict[str, np.ndarray] = field(default_factory=dict)  # class name -> (d,)
    # explained_variance and linearity (R^2) per PC, and how the fit was made
    meta: dict = field(default_factory=dict)
    generator: Generator | None = field(default=None, repr=False, compare=False)

    def names(self, kind: str | None = None) -> list[str]:
        """Direction names, of one kind or all (raw ``dim_<i>`` first)."""
        raw = [f"dim_{i}" for i in range(self.latent_dim)]
        stored = [n for n in self.vectors if kind is None or self.kinds[n] == kind]
        return (raw if kind in (None, "raw") else []) + stored

    def kind(self, name: str) -> str:
        self.vector(name)  # unknown names: InputError
        return self.kinds.get(name, "raw")

    def vector(self, name: str, orthogonal: bool = True) -> np.ndarray:
        """The unit vector of `name` (a copy); ``age``, ``gender`` and ``smile`` give their
        orthogonal variant unless `orthogonal` is False."""
        if name.startswith("dim_") and name[4:].isdigit() and int(name[4:]) < self.latent_dim:
            v = np.zeros(self.latent_dim, np.float32)
            v[int(name[4:])] = 1.0
            return v
        key = f"{name}_orthogonal" if orthogonal and f"{name}_orthogonal" in self.vectors else name
        if key not in self.vectors:
            known = ", ".join([*self.vectors, f"dim_0..dim_{self.latent_dim - 1}"])
            raise InputError(f"unknown direction {name!r} (known: {known})")
        return self.vectors[key].copy()

    def edit(self, z: np.ndarray, changes: dict[str, float], orthogonal: bool = True) -> np.ndarray:
        """`z` (d,) or (N, d) moved by ``amount`` z units along each named direction."""
        out = np.array(z, np.float32, copy=True)
        if out.ndim not in (1, 2) or out.shape[-1] != self.latent_dim:
            raise InputError(f"z must have {self.latent_dim} values per latent, got {out.shape}")
        for name, amount in changes.items():
            if isinstance(amount, bool) or not isinstance(amount, int | float | np.number):
                raise InputError(f"amount of {name!r} must be a number, got {amount!r}")
            if not np.isfinite(amount):
                raise InputError(f"amount of {name!r} must be finite, got {amount}")
            out += np.float32(amount) * self.vector(name, orthogonal)
        return out

    def preset_names(self) -> list[str]:
        return [*_presets.BUILT_IN, *self.presets, _presets.FACE]

    def preset(self, name: str, *, seed: int = 0, image=None, **invert_options) -> np.ndarray:
        """A starting latent (d,): ``random`` (seeded), ``mean`` (zeros), a stored class
        average (``female``, ``male``, ``young``, ``old``, ``smiling``), or ``face``: the
        inverted latent of `image`, with `invert_options` for :func:`faceveil.gen.invert.invert`.
        """
        if name == "random":
            return _presets.random_latent(self.latent_dim, seed)
        if name == "mean":
            return np.zeros(self.latent_dim, np.float32)
        if name == _presets.FACE:
            if image is None or self.generator is None:
                raise InputError("the face preset needs an image and load_directions(generator)")
            return _presets.face_latent(self.generator, image, **invert_options)
        if name not in self.presets:
            raise InputError(f"unknown preset {name!r} (known: {', '.join(self.preset_names())})")
        return self.presets[name].copy()

    def save(self, path: str | Path) -> Path:
        """Write an .npz (no pickles) atomically; returns its path."""
        path = Path(path)
        arrays = {f"vec/{k}": v for k, v in self.vectors.items()}
        arrays |= {f"preset/{k}": v for k, v in self.presets.items()}
        meta = {"latent_dim": self.latent_dim, "kinds": self.kinds, **self.meta}
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        # numpy 2's stub lets a **dict of arrays fill its allow_pickle: bool parameter.
        savez: Any = np.savez_compressed
        savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Directions:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {k: data[k].astype(np.float32) for k in data.files if k != "meta"}
            d, kinds = int(meta.pop("latent_dim")), meta.pop("kinds")
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise InputError(f"{path}: not a directions file ({type(exc).__name__})") from None
        vectors = {k[4:]: v for k, v in arrays.items() if k.startswith("vec/")}
        presets = {k[7:]: v for k, v in arrays.items() if k.startswith("preset/")}
        if set(kinds) != set(vectors) or any(v.shape != (d,) for v in arrays.values()):
            raise InputError(f"{path}: vectors do not match its {d}-dim metadata")
        return cls(d, vectors, kinds, presets, meta)


def load_directions(generator: Generator) -> Directions:
    """The directions and presets stored with `generator` (its model dir's directions.npz);
    only the raw dimensions and the random, mean and face presets if it has none."""
    path = Path(generator.info.path or "") / DIRECTIONS_FILE
    if not generator.info.path or not path.is_file():
        return Directions(generator.latent_dim, generator=generator)
    directions = _load_cached(str(path), path.stat().st_mtime_ns)
    if directions.latent_dim != generator.latent_dim:
        raise InputError(
            f"{path}: fitted for {directions.latent_dim}-dim z, but {generator.name} has "
            f"{generator.latent_dim}; refit with scripts/fit_directions.py"
        )
    return dataclasses.replace(directions, generator=generator)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: int) -> Directions:
    return Directions.load(path)


def edit(
    z: np.ndarray,
    changes: dict[str, float],
    generator: Generator | None = None,
    *,
    orthogonal: bool = True,
) -> np.ndarray:
    """Move latent(s) `z` along named directions: ``edit(z, {"age": +2, "smile": -1})``.

    Parameters
    ----------
    z : (latent_dim,) or (N, latent_dim) latents.
    changes : direction name -> amount in z units (one standard deviation of the latent
        distribution along the direction); ``{}`` returns a copy of `z`.
    generator : whose directions; default ``dcgan64``.
    orthogonal : use the orthogonalised attribute directions (less entangled).

    Returns
    -------
    float32 array of z's shape. Unknown names raise InputError listing the known ones.
    """
    if generator is None:
        from faceveil.gen.registry import get_generator

        generator = get_generator()
    return load_directions(generator).edit(z, changes, orthogonal)


# --- labelling samples with the analysis models ------------------------------------------------


def framed(image: np.ndarray) -> np.ndarray:
    """A generator sample at 2x inside a grey border as wide as the sample, so that a face
    filling the frame is detected (as the landmark template is measured)."""
    res = image.shape[0]
    big = cv2.resize(image, (2 * res, 2 * res), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, res, res, res, res, cv2.BORDER_CONSTANT, value=(128,) * 3)


def detected_samples(generator: Generator, z: np.ndarray, batch: int = 64) -> Iterator[tuple]:
    """``(framed face, Face or None)`` for each latent in `z`, decoded in batches."""
    from faceveil.detect import detect

    for start in range(0, len(z), batch):
        for img in generator.decode(z[start : start + batch]):
            canvas = framed(img)
            faces = detect(canvas, small_faces=False, max_side=None, recall="fast")
            yield canvas, (faces[0] if faces else None)


def attribute_scores(canvas: np.ndarray, face) -> tuple[float, float, float]:
    """Age in years, P(female) and P(happy) of a detected face."""
    from faceveil.analysis.attributes import analyze_faces

    a = analyze_faces(canvas, [face], mesh=False, align="landmarks")[0]
    return a.age, a.female_prob, a.emotions["happy"]


def label_samples(generator: Generator, z: np.ndarray) -> np.ndarray:
    """(N, 3) age, P(female) and P(happy) of each latent's face; NaN rows where undetected."""
    labels = np.full((len(z), 3), np.nan, np.float32)
    for i, (canvas, face) in enumerate(detected_samples(generator, z)):
        if face is not None:
            labels[i] = attribute_scores(canvas, face)
    return labels


# --- fitting -----------------------------------------------------------------------------------


def _logistic_normal(z: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Unit normal of a logistic boundary between the top and bottom EXTREME_SHARE of score."""
    lo, hi = np.quantile(score, [EXTREME_SHARE, 1 - EXTREME_SHARE])
    keep = (score <= lo) | (score >= hi)
    x = torch.from_numpy(z[keep]).double()
    y = torch.from_numpy((score[keep] >= hi).astype(np.float64))
    w = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = x @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        loss = loss + 1e-3 * (w[:-1] ** 2).sum()  # a little ridge: separable data stays finite
        loss.backward()
        return loss

    opt.step(closure)
    normal = w[:-1].detach().numpy()
    return (normal / np.linalg.norm(normal)).astype(np.float32)


def _orthogonalise(vectors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each vector with the span of the others projected out, renormalised."""
    out = {}
    for name, v in vectors.items():
        q, _ = np.linalg.qr(np.stack([u for k, u in vectors.items() if k != name], axis=1))
        w = v - q @ (q.T @ v)
        out[f"{name}_orthogonal"] = (w / np.linalg.norm(w)).astype(np.float32)
    return out


def pca_directions(
    generator: Generator, n: int = 5000, k: int = 16, seed: int = 1
) -> tuple[dict[str, np.ndarray], dict]:
    """GANSpace: PCA of the first block's activations over `n` samples, each component mapped
    back to z by linear regression; the first `k` components with R^2 >= MIN_LINEARITY,
    orthogonalised in order. Returns (vectors, info): explained variance share and R^2 per name,
    and the ranks of the skipped components."""
    first = getattr(generator.net, "main", None)
    if not isinstance(first, torch.nn.Sequential):
        raise InputError(f"{generator.name}: PCA directions need a DCGAN-layout decoder")
    z = generator.sample_latents(n, seed=seed)
    with torch.inference_mode():  # ConvTranspose 4x4, BatchNorm, ReLU
        feats = first[:3](torch.from_numpy(z).to(generator.device).reshape(n, -1, 1, 1))
    feats = feats.flatten(1).float().cpu().clone()
    feats -= feats.mean(dim=0)
    total = float((feats**2).sum())
    torch.manual_seed(seed)  # svd_lowrank draws a random sketch
    _, s, v = torch.svd_lowrank(feats, q=k + 16, niter=4)
    coords = (feats @ v).numpy().astype(np.float64)  # (n, k + 16) component scores
    x = np.hstack([z.astype(np.float64), np.ones((n, 1))])
    coef, *_ = np.linalg.lstsq(x, coords, rcond=None)
    r2 = 1 - ((x @ coef - coords) ** 2).sum(0) / (coords**2).sum(0)
    kept = np.flatnonzero(r2 >= MIN_LINEARITY)[:k]
    if not kept.size:
        raise InputError(f"{generator.name}: no principal component is linear in z")
    q, r = np.linalg.qr(coef[:-1, kept] / np.linalg.norm(coef[:-1, kept], axis=0))
    q *= np.sign(np.diag(r))  # keep each component's sign
    names = [f"pc{i}" for i in range(len(kept))]
    share = (s**2).numpy() / total
    info = {
        "explained_variance": {
            p: round(float(share[j]), 5) for p, j in zip(names, kept, strict=True)
        },
        "linearity": {p: round(float(r2[j]), 4) for p, j in zip(names, kept, strict=True)},
        "pca_skipped": [int(j) for j in np.flatnonzero(r2 < MIN_LINEARITY) if j < kept[-1]],
    }
    return {p: q[:, i].astype(np.float32) for i, p in enumerate(names)}, info


def fit_directions(generator: Generator, n: int = 3000, seed: int = 0, pcs: int = 16) -> Directions:
    """Fit the PCA and attribute directions and the class presets of `generator`.

    Labels `n` seeded samples (about 15 ms each on a CPU) and runs PCA on 5000 more. A model
    whose faces are detected fewer than MIN_LABELLED times gets PCA directions only. Store the
    result with ``directions.save(Path(model_dir) / "directions.npz")``.
    """
    if n < 1:
        raise InputError(f"n must be positive, got {n}")
    vectors, meta = pca_directions(generator, k=pcs, seed=seed + 1)
    kinds = dict.fromkeys(vectors, "pca")
    z = generator.sample_latents(n, seed=seed)
    labels = label_samples(generator, z)
    ok = ~np.isnan(labels).any(axis=1)
    meta["fit"] = {"samples": n, "seed": seed, "labelled": int(ok.sum()), "pca_samples": 5000}
    presets: dict[str, np.ndarray] = {}
    if ok.sum() >= MIN_LABELLED:
        zs, ys = z[ok], labels[ok]
        attr = {name: _logistic_normal(zs, ys[:, i]) for i, name in enumerate(ATTRIBUTES)}
        orth = _orthogonalise(attr)
        vectors |= attr | orth
        kinds |= dict.fromkeys(attr, "attribute") | dict.fromkeys(orth, "orthogonal")
        presets = _presets.class_averages(zs, ys)
    return Directions(generator.latent_dim, vectors, kinds, presets, meta, generator)
