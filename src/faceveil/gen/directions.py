"""Latent directions and presets: what the sliders move.

Three kinds of direction, each a unit vector in z:

- ``dim_<i>``: a raw latent dimension;
- ``pc<i>``: GANSpace-style principal components. PCA runs on the generator's first-block
  activations (its real variation, not the isotropic z), and each component is mapped back to z
  by least squares, as GANSpace does for BigGAN;
- ``age``, ``gender`` (+ is more female), ``smile``: InterFaceGAN-style attribute directions. A
  few thousand samples are labelled by faceveil's own age, gender and expression models, and a
  logistic boundary is fitted in z between the top and bottom 30 % of each score; the direction
  is its normal. The *orthogonal* variants project the other two attributes out, so moving age
  changes gender and smile less.

Amounts are in z units: z ~ N(0, I), so +1 moves a face one standard deviation of the latent
distribution along the direction. Presets are latents: ``random``, ``mean`` (all zeros), and the
mean latent of the samples labelled female, male, young, old and smiling.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from faceveil.errors import InputError
from faceveil.gen.base import DIRECTIONS_FILE, Generator

ATTRIBUTES = ("age", "gender", "smile")
CLASS_PRESETS = ("female", "male", "young", "old", "smiling")
EXTREME_SHARE = 0.3  # top and bottom share of each score the boundary separates


@dataclass
class Directions:
    """The directions and presets of one generator."""

    latent_dim: int
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # name -> unit (d,)
    kinds: dict[str, str] = field(default_factory=dict)  # name -> "pca" | "attribute" | ...
    presets: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (d,)
    explained_variance: dict[str, float] = field(default_factory=dict)  # pc name -> share
    quality: dict = field(default_factory=dict)  # measured by measure_directions

    def names(self, kind: str | None = None) -> list[str]:
        """Stored direction names (raw ``dim_<i>`` are always available too)."""
        return [n for n in self.vectors if kind is None or self.kinds[n] == kind]

    def vector(self, name: str, orthogonal: bool = True) -> np.ndarray:
        """The unit vector of `name`; attribute names give their orthogonalised variant unless
        `orthogonal` is False."""
        if name.startswith("dim_") and name[4:].isdigit() and int(name[4:]) < self.latent_dim:
            v = np.zeros(self.latent_dim, np.float32)
            v[int(name[4:])] = 1.0
            return v
        key = f"{name}_orthogonal" if orthogonal and name in ATTRIBUTES else name
        if key not in self.vectors:
            known = ", ".join([*self.names(), f"dim_0..dim_{self.latent_dim - 1}"])
            raise InputError(f"unknown direction {name!r} (known: {known})")
        return self.vectors[key]

    def preset(self, name: str, seed: int = 0) -> np.ndarray:
        """A latent: ``random`` (seeded), ``mean``, or a stored class average."""
        if name == "random":
            rng = torch.Generator("cpu").manual_seed(int(seed))
            return torch.randn(self.latent_dim, generator=rng).numpy()
        if name == "mean":
            return np.zeros(self.latent_dim, np.float32)
        if name not in self.presets:
            known = ", ".join(["random", "mean", *self.presets])
            raise InputError(f"unknown preset {name!r} (known: {known})")
        return self.presets[name].copy()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays = {f"vec/{k}": v for k, v in self.vectors.items()}
        arrays |= {f"preset/{k}": v for k, v in self.presets.items()}
        meta = {
            "latent_dim": self.latent_dim,
            "kinds": self.kinds,
            "explained_variance": self.explained_variance,
            "quality": self.quality,
        }
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Directions:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                vectors = {k[4:]: data[k].astype(np.float32) for k in data.files if k[:4] == "vec/"}
                presets = {
                    k[7:]: data[k].astype(np.float32) for k in data.files if k[:7] == "preset/"
                }
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path}: not a directions file ({exc})") from None
        return cls(
            meta["latent_dim"],
            vectors,
            meta["kinds"],
            presets,
            meta.get("explained_variance", {}),
            meta.get("quality", {}),
        )


def load_directions(generator: Generator) -> Directions:
    """The directions stored with `generator`, or only the raw dimensions if it has none."""
    path = Path(generator.info.path or "") / DIRECTIONS_FILE
    if not generator.info.path or not path.is_file():
        return Directions(generator.latent_dim)
    return _load_cached(str(path), path.stat().st_mtime_ns)


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

    Amounts are in z units (see the module docstring); `generator` defaults to ``dcgan64``.
    Returns a new array of z's shape.
    """
    if generator is None:
        from faceveil.gen.registry import get_generator

        generator = get_generator()
    directions = load_directions(generator)
    out = np.array(z, np.float32, copy=True)
    for name, amount in changes.items():
        out += float(amount) * directions.vector(name, orthogonal)
    return out


# --- fitting ---------------------------------------------------------------------------------


def label_samples(generator: Generator, z: np.ndarray, batch: int = 64) -> np.ndarray:
    """(N, 3) age in years, P(female) and P(happy) of each latent's face; NaN where undetected.

    Faces are shown to the models at 2x in a grey frame, as the landmark template is measured.
    """
    from faceveil.analysis.attributes import analyze_faces
    from faceveil.detect import detect

    res = generator.resolution
    labels = np.full((len(z), 3), np.nan, np.float32)
    for start in range(0, len(z), batch):
        for i, img in enumerate(generator.decode(z[start : start + batch]), start):
            big = cv2.resize(img, (2 * res, 2 * res), interpolation=cv2.INTER_CUBIC)
            canvas = cv2.copyMakeBorder(
                big, res, res, res, res, cv2.BORDER_CONSTANT, value=(128,) * 3
            )
            faces = detect(canvas, small_faces=False, max_side=None)
            if faces:
                a = analyze_faces(canvas, faces[:1], mesh=False, align="landmarks")[0]
                female = a.gender_prob if a.gender == "female" else 1.0 - a.gender_prob
                labels[i] = (a.age, female, a.emotions["happy"])
    return labels


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
    out = {}
    for name, v in vectors.items():
        others = np.stack([u for k, u in vectors.items() if k != name], axis=1)
        q, _ = np.linalg.qr(others)
        w = v - q @ (q.T @ v)
        out[f"{name}_orthogonal"] = (w / np.linalg.norm(w)).astype(np.float32)
    return out


def pca_directions(
    generator: Generator, n: int = 5000, k: int = 16, seed: int = 1
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """GANSpace: top-`k` PCA components of the first generator block's activations, each
    mapped back to a unit z direction by least squares. Returns (vectors, explained share)."""
    z = generator.sample_latents(n, seed=seed)
    first = generator.net.main[:3]  # ConvTranspose 4x4, BatchNorm, ReLU
    with torch.inference_mode():
        feats = first(torch.from_numpy(z).to(generator.device).reshape(n, -1, 1, 1))
    feats = feats.flatten(1).float().cpu().clone()
    feats -= feats.mean(dim=0)
    total = float((feats**2).sum())
    torch.manual_seed(seed)  # svd_lowrank draws a random sketch
    _, s, v = torch.svd_lowrank(feats, q=k + 10, niter=4)
    share = (s**2 / total).numpy()
    vt = v.T.numpy()
    feats = feats.numpy()
    coords = feats @ vt[:k].T  # (n, k)
    # z -> coordinate, least squares; its coefficient vector is the z direction of the component.
    coef, *_ = np.linalg.lstsq(z.astype(np.float64), coords, rcond=None)
    vectors = {f"pc{i}": (c / np.linalg.norm(c)).astype(np.float32) for i, c in enumerate(coef.T)}
    return vectors, {f"pc{i}": float(share[i]) for i in range(k)}


def fit_directions(
    generator: Generator, n: int = 3000, seed: int = 0, pcs: int = 16
) -> tuple[Directions, np.ndarray, np.ndarray]:
    """Fit PCA and attribute directions and class presets for `generator`.

    Returns (directions, latents, labels), the last two for measuring.
    """
    z = generator.sample_latents(n, seed=seed)
    labels = label_samples(generator, z)
    ok = ~np.isnan(labels).any(axis=1)
    if ok.sum() < 100:
        raise InputError(f"{generator.name}: only {int(ok.sum())} of {n} samples labelled")
    zs, ys = z[ok], labels[ok]
    attr = {name: _logistic_normal(zs, ys[:, i]) for i, name in enumerate(ATTRIBUTES)}
    vectors, share = pca_directions(generator, k=pcs, seed=seed + 1)
    kinds = {k: "pca" for k in vectors}
    vectors |= attr | _orthogonalise(attr)
    kinds |= {k: "attribute" for k in vectors if k not in kinds}
    age, female, happy = ys.T
    masks = {
        "female": female >= 0.8,
        "male": female <= 0.2,
        "young": age <= np.quantile(age, 0.2),
        "old": age >= np.quantile(age, 0.8),
        "smiling": happy >= np.quantile(happy, 0.8),
    }
    presets = {k: zs[m].mean(axis=0).astype(np.float32) for k, m in masks.items() if m.any()}
    return Directions(generator.latent_dim, vectors, kinds, presets, share), zs, ys


def _identity_similarity(generator: Generator, a: np.ndarray, b: np.ndarray) -> list[float]:
    """SFace cosine between the faces of latents `a` and `b` (pairwise; NaN if undetected)."""
    from faceveil.analysis.identity import cosine, embed_faces
    from faceveil.detect import detect

    res = generator.resolution
    out = []
    for x, y in zip(generator.decode(a), generator.decode(b), strict=True):
        embs = []
        for img in (x, y):
            big = cv2.resize(img, (2 * res, 2 * res), interpolation=cv2.INTER_CUBIC)
            canvas = cv2.copyMakeBorder(
                big, res, res, res, res, cv2.BORDER_CONSTANT, value=(128,) * 3
            )
            faces = detect(canvas, small_faces=False, max_side=None)
            embs.append(embed_faces(canvas, faces[:1])[0] if faces else None)
        ok = embs[0] is not None and embs[1] is not None
        out.append(cosine(embs[0], embs[1]) if ok else float("nan"))
    return out


def measure_directions(
    generator: Generator,
    directions: Directions,
    n: int = 200,
    seed: int = 10_000,
    step: float = 2.0,
) -> dict:
    """How cleanly each attribute direction works, on `n` held-out samples moved by +-`step`.

    Per attribute and variant (raw, orthogonal): the change of its own score per z unit, the
    share of samples whose score moves the right way, the mean absolute change of the other two
    scores, and the SFace similarity between the face at -step and at +step.
    """
    z = generator.sample_latents(n, seed=seed)
    units = {"age": "years", "gender": "P(female)", "smile": "P(happy)"}
    report: dict = {}
    for variant, orthogonal in (("raw", False), ("orthogonal", True)):
        for i, name in enumerate(ATTRIBUTES):
            d = directions.vector(name, orthogonal)
            lo, hi = z - step * d, z + step * d
            a, b = label_samples(generator, lo), label_samples(generator, hi)
            ok = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
            delta = (b - a)[ok]
            others = [j for j in range(3) if j != i]
            ident = np.array(_identity_similarity(generator, lo[ok][:50], hi[ok][:50]))
            report[f"{name}/{variant}"] = {
                "unit": units[name],
                "per_z_unit": float(delta[:, i].mean() / (2 * step)),
                "right_way": float((delta[:, i] > 0).mean()),
                "others_abs_change": {
                    ATTRIBUTES[j]: float(np.abs(delta[:, j]).mean()) for j in others
                },
                "identity_similarity": float(np.nanmean(ident)),
                "samples": int(ok.sum()),
            }
    return report
