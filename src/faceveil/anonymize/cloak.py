"""``cloak``: a small adversarial perturbation that keeps the face visible to people but moves
it away from its identity in a face recognizer's embedding space (after Fawkes and LowKey).

``--method cloak [--budget low|mid|high|max] [--target decoy|away]``; for each face:

1. the face region (the runner's feathered region, so the perturbation is optimised as the
   runner will composite it) is perturbed by Adam steps through the differentiable
   SFace (``faceveil.models.sface_torch``), aligned on the face's own landmarks;
2. every step sees the exact alignment and one jittered view (+-2 px, 0.95-1.05 scale, +-3
   degrees), in turn as it is, downscaled and upscaled, or blurred, so the cloak is not tuned
   to one crop or lost to re-encoding (two views a step cost half of all four, for about the
   same strength on ORL);
3. ``decoy`` (default) pulls the embedding toward a synthetic identity from the generator, the
   farthest of ``DECOYS`` seeded samples from the face; ``away`` only pushes it from the own;
4. the budget: an L-infinity cap, and a DSSIM (``(1 - SSIM) / 2``) limit over the face
   region, kept by a penalty while optimising, by scaling the perturbation back after each step
   and, exactly, by a bisection on that scale at the end.

Pixels outside the face region stay byte-identical. The attacker's view is then measured
(OpenCV SFace on the original landmarks, as ``IdentityCheck`` does, and on the landmarks the
detector finds on the cloaked face) and reported per face; a face still recognised within the
budget is *not* blurred (the point of a cloak is a face that stays visible) but reported with a
warning. Only SFace is optimised against: protection against other recognizers is what
``bench/cloak.py`` measures, not what this promises (docs/benchmarks.md, Cloak: at ``mid``
dlib, never seen, still re-identifies almost every pair).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import Fallback, register
from faceveil.anonymize.replace import IdentityCheck, as_roi
from faceveil.anonymize.state import RunState
from faceveil.faces import Face
from faceveil.io.images import to_rgb8

# budget -> (DSSIM over the face region, L-infinity cap on 0-255); Fawkes' DSSIM presets
# max: not a Fawkes preset; the most a face takes at SSIM >= 0.95 (visible as fine grain)
BUDGETS = {"low": (0.003, 4.0), "mid": (0.005, 8.0), "high": (0.008, 12.0), "max": (0.025, 24.0)}
STEPS = 30  # Adam steps at least...
VIEW_WEIGHTS = (0.4, 0.2, 0.2, 0.2)  # exact, jittered, resized, blurred
VIEWS = 2  # SFace views per step: 4 (all), or 2 (exact + one of the others in turn)
MAX_STEPS = 40  # ...and at most: more while the exact view is still close to the own identity
STOP = 0.15  # exact-view cosine to the own face under which no more steps are taken
DECOYS = 16  # generator samples the decoy is chosen from
SSIM_WEIGHT = 200.0  # penalty per unit of DSSIM over 95 % of the budget
# image px per SFace crop px above which the perturbation is coarser (for cost): full
# resolution is the most effective per unit of DSSIM
WORK_SCALE = 4.0
REDETECT = 6  # steps between re-detections of the cloaked face's landmarks
LR = 0.1  # Adam step, as a fraction of the L-infinity cap
THREADS = 1  # two intra-op threads were much slower on a busy 2-core machine


def region_alpha(shape: tuple[int, ...], face: Face, opts: AnonymizeOptions) -> np.ndarray:
    """The runner's feathered region alpha of `face` in an image (or ROI) of `shape`."""
    from faceveil.anonymize.regions import face_region

    region = face_region(
        face, shape, shape=opts.shape, mask_scale=opts.mask_scale, feather=opts.feather
    )
    alpha = np.zeros(shape[:2], np.float32)
    if region is not None:
        alpha[region.slices] = region.alpha
    return alpha


def _ssim_map(a, b):
    """SSIM map of (N, C, H, W) tensors on 0-255: 7x7 uniform window, sample covariance
    (as skimage), reflect-padded to the input size, channels averaged -> (N, H, W)."""
    import torch.nn.functional as F

    c1, c2, n = (0.01 * 255) ** 2, (0.03 * 255) ** 2, 49

    def mean(x):
        return F.avg_pool2d(F.pad(x, (3, 3, 3, 3), mode="reflect"), 7, stride=1)

    ma, mb = mean(a), mean(b)
    va = (mean(a * a) - ma * ma) * n / (n - 1)
    vb = (mean(b * b) - mb * mb) * n / (n - 1)
    cov = (mean(a * b) - ma * mb) * n / (n - 1)
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return s.mean(dim=1)


def face_ssim(original: np.ndarray, result: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM (7x7 window, RGB averaged, range 255) over the pixels where `mask` > 0."""
    import torch

    def t(x):
        x = to_rgb8(x).astype(np.float32)
        return torch.from_numpy(x).permute(2, 0, 1)[None]

    with torch.no_grad():
        m = _ssim_map(t(original), t(result))[0].numpy()
    inside = mask > 0
    return float(m[inside].mean()) if inside.any() else 1.0


@functools.lru_cache(maxsize=8)
def _decoys(seed: int):
    """(DECOYS, 128) unit SFace embeddings of seeded generator faces."""
    import torch

    from faceveil.anonymize.replace import model
    from faceveil.models.sface_torch import IdentityEmbedder

    generator, _ = model()
    faces = generator.sample(DECOYS, seed=seed)
    x = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    embed = IdentityEmbedder(generator.landmark_template, generator.resolution, "cpu")
    with torch.no_grad():
        return embed(x)


def _views(matrix: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, n: int):
    """(n, 112, 112, 2) grid_sample grids into an image of `shape` for SFace crops aligned by
    `matrix` (image -> crop): view 0 exact, the others jittered."""
    import torch

    from faceveil.models.sface_torch import SFACE_SIZE

    size = SFACE_SIZE
    back = cv2.invertAffineTransform(matrix)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    p = np.stack([xs, ys], -1) - (size - 1) / 2
    grids = []
    for k in range(n):
        if k == 0:
            q = p
        else:
            s = rng.uniform(0.95, 1.05)
            a = np.radians(rng.uniform(-3, 3))
            rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
            q = p @ rot.T + rng.uniform(-2, 2, 2).astype(np.float32)
        q = q + (size - 1) / 2
        src = q @ back[:, :2].T + back[:, 2]
        h, w = shape
        grid = (src + 0.5) / np.array([w, h], np.float32) * 2 - 1
        grids.append(grid)
    return torch.from_numpy(np.stack(grids).astype(np.float32))


def _degrade(crops, kinds: tuple[str, ...], rng: np.random.Generator):
    """Each crop as its view kind wants it: "exact" and "jitter" as they are, "resize" through a
    down-and-up resize and "blur" through a Gaussian blur: what JPEG and a resize do to fine
    detail, differentiably."""
    import torch
    import torch.nn.functional as F

    out = []
    for crop, kind in zip(crops.split(1), kinds, strict=True):
        if kind == "resize":
            f = rng.uniform(0.55, 0.9)
            small = F.interpolate(crop, scale_factor=f, mode="bilinear", antialias=True)
            crop = F.interpolate(small, size=crops.shape[-2:], mode="bilinear")
        elif kind == "blur":
            sigma = rng.uniform(0.6, 1.2)
            r = np.arange(-2, 3, dtype=np.float32)
            g = np.exp(-(r**2) / (2 * sigma**2))
            g = torch.from_numpy(g / g.sum())
            kernel = (g[:, None] * g[None, :]).expand(3, 1, 5, 5)
            crop = F.conv2d(F.pad(crop, (2, 2, 2, 2), mode="replicate"), kernel, groups=3)
        out.append(crop)
    return torch.cat(out)


def _step_views(step: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The views of one Adam step and their weights: all four, or (VIEWS == 2) the exact view
    and one of the other three in turn, which halves the cost of a step."""
    if VIEWS == 4:
        return ("exact", "jitter", "resize", "blur"), VIEW_WEIGHTS
    return ("exact", ("jitter", "resize", "blur")[step % 3]), (0.5, 0.5)


def _redetected(canvas, face: Face, pad: int) -> np.ndarray | None:
    """The SFace alignment (image -> crop) on the landmarks the detector finds on the cloaked
    face now, or None: an attacker detects the face anew, and a cloak tuned to the original
    landmarks alone fails on the ones its own perturbation moves."""
    import dataclasses

    from faceveil.align import align_matrix
    from faceveil.detect import detect
    from faceveil.faces import best_overlap
    from faceveil.models.sface_torch import SFACE_TEMPLATE

    image = canvas[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    x, y, w, h = face.box
    here = dataclasses.replace(face, box=(x + pad, y + pad, w, h))
    again = best_overlap(here, detect(image, small_faces=False, recall="fast"), 0.5)
    if again is None:
        return None
    try:
        return align_matrix(again.landmarks, SFACE_TEMPLATE)
    except ValueError:
        return None


@dataclass
class _Problem:
    """The tensors of one face's optimisation: the ROI mirrored into a padded context (SFace's
    crop reaches past the ROI, as in IdentityCheck), the region's alpha, the alignment on the
    padded image and the embeddings to move away from and toward."""

    orig: Any
    big: Any
    a: Any
    inside: Any
    moved: np.ndarray
    context_shape: tuple[int, int]
    pad: int
    work: float
    own: Any
    target: Any
    dssim_cap: float
    linf: float

    def perturbed(self, d):
        import torch.nn.functional as F

        h, w = self.orig.shape[2:]
        full = F.interpolate(d, size=(h, w), mode="bilinear") if self.work < 1 else d
        return (self.orig + self.a * full.expand(1, 3, h, w)).clamp(0, 255)

    def dssim(self, x):
        return (1 - _ssim_map(x, self.orig)[0][self.inside].mean()) / 2


def _problem(rgb, alpha, matrix: np.ndarray, opts: AnonymizeOptions, net, rng) -> _Problem:
    import torch
    import torch.nn.functional as F

    h, w = rgb.shape[:2]
    pad = max(h, w) // 2
    context = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    big = torch.from_numpy(context.astype(np.float32)).permute(2, 0, 1)[None]
    a = torch.from_numpy(alpha)[None, None]
    moved = matrix.copy()
    moved[:, 2] -= pad * moved[:, :2].sum(axis=1)  # the same crop from the padded image
    zoom = 1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2])))  # image px per crop px
    exact = _views(moved, context.shape[:2], rng, 1)
    with torch.no_grad():
        own = F.normalize(net(F.grid_sample(big, exact, align_corners=False)), dim=1)[0]
    target = None
    if opts.target == "decoy":
        decoys = _decoys(opts.seed)
        target = decoys[int(torch.argmin(decoys @ own))]
    dssim_cap, linf = BUDGETS[opts.budget]
    return _Problem(
        orig=torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)[None],
        big=big,
        a=a,
        inside=a[0, 0] > 0,
        moved=moved,
        context_shape=context.shape[:2],
        pad=pad,
        work=min(1.0, WORK_SCALE / zoom),
        own=own,
        target=target,
        dssim_cap=dssim_cap,
        linf=linf,
    )


def _optimise(
    p: _Problem, net, face: Face, gray: bool, rng, run: RunState
) -> tuple[np.ndarray, int]:
    """Adam on the perturbation within the budget: (the raw perturbation, steps taken)."""
    import torch
    import torch.nn.functional as F

    h, w = p.orig.shape[2:]
    dh, dw = max(8, round(h * p.work)), max(8, round(w * p.work))
    delta = torch.zeros(1, 1 if gray else 3, dh, dw, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=p.linf * LR)
    anchors = [p.moved]  # the original alignment, and the latest on re-detected landmarks
    steps = 0
    while steps < MAX_STEPS:
        run.check("during a cloak")  # a face takes seconds: a stop need not wait for it
        x = p.perturbed(delta)
        canvas = p.big + F.pad(x - p.orig, (p.pad, p.pad, p.pad, p.pad))
        if steps % REDETECT == REDETECT - 1:
            found = _redetected(canvas.detach(), face, p.pad)
            anchors = [p.moved] if found is None else [p.moved, found]
        kinds, view_weights = _step_views(steps)
        grids = _views(anchors[steps % len(anchors)], p.context_shape, rng, len(kinds))
        crops = F.grid_sample(canvas.expand(len(kinds), -1, -1, -1), grids, align_corners=False)
        e = F.normalize(net(_degrade(crops, kinds, rng)), dim=1)
        if steps > STEPS and float(e[0].detach() @ p.own) < STOP:
            break  # the state just evaluated is far enough: keep it
        weights = torch.tensor(view_weights)
        loss = (e @ p.own) @ weights
        if p.target is not None:
            loss = loss - (e @ p.target) @ weights
        loss = loss + SSIM_WEIGHT * F.relu(p.dssim(x) - p.dssim_cap * 0.95)
        (grad,) = torch.autograd.grad(loss, delta)
        delta.grad = grad
        optimiser.step()
        steps += 1
        with torch.no_grad():
            delta.clamp_(-p.linf, p.linf)
            # projection: DSSIM grows about as the square of the perturbation
            now = float(p.dssim(p.perturbed(delta)))
            if now > p.dssim_cap:
                delta *= 0.98 * np.sqrt(p.dssim_cap / now)
    with torch.no_grad():
        full = p.perturbed(delta) - p.orig  # already weighted by alpha
        raw = (full / p.a.clamp(min=1e-3)).clamp(-p.linf, p.linf)[0].permute(1, 2, 0).numpy()
    return raw, steps


def _within_budget(rgb, raw, alpha, dssim_cap: float) -> tuple[float, np.ndarray, float]:
    """The perturbation scaled to the exact budget: (scale, result, face SSIM)."""
    from faceveil.anonymize.apply import _blend

    def result(scale: float) -> np.ndarray:
        return np.clip(np.rint(rgb + scale * raw), 0, 255).astype(np.uint8)

    def ssim_of(out: np.ndarray) -> float:
        return face_ssim(rgb, _blend(rgb, out, alpha), alpha)

    scale, out = 1.0, result(1.0)
    ssim = ssim_of(out)
    if (1 - ssim) / 2 > dssim_cap:  # over budget: the largest scale within it (bisection)
        lo, hi = 0.0, 1.0
        for _ in range(8):
            mid = (lo + hi) / 2
            if (1 - ssim_of(result(mid))) / 2 > dssim_cap:
                hi = mid
            else:
                lo = mid
        scale, out = lo, result(lo)
        ssim = ssim_of(out)
    return scale, out, ssim


def _attacker_view(rgb, out, alpha, face: Face, opts: AnonymizeOptions, ssim: float) -> dict:
    """What SFace sees of the cloaked face, on the original and on re-detected landmarks."""
    from faceveil.anonymize.apply import _blend

    check = IdentityCheck(rgb, face, opts)
    similarity = check.similarity(out)
    again = check.similarity_redetected(out)
    worst = max(similarity, again if again is not None else -1.0)
    final = _blend(rgb, out, alpha)
    info: dict = dict(
        budget=opts.budget,
        target=opts.target,
        similarity_after=round(similarity, 3),
        similarity_redetected=None if again is None else round(again, 3),
        recognised=bool(worst >= SFACE_THRESHOLD),
        dssim=round((1 - ssim) / 2, 4),
        linf=int(np.abs(final.astype(np.int16) - rgb).max()),
    )
    if worst >= SFACE_THRESHOLD:
        names = list(BUDGETS)
        stronger = names[names.index(opts.budget) + 1 :]
        hint = f"try --budget {stronger[0]} or another method" if stronger else "try another method"
        info["warning"] = (
            f"still recognised by SFace ({worst:.2f} >= {SFACE_THRESHOLD}) within the "
            f"{opts.budget} budget: {hint}"
        )
    return info


def cloak_face(
    rgb: np.ndarray, face: Face, opts: AnonymizeOptions, info: dict, run: RunState | None = None
) -> np.ndarray:
    """`rgb` (the face's ROI, uint8 RGB) with the face cloaked; fills `info`."""
    import torch

    from faceveil.align import align_matrix
    from faceveil.models.sface_torch import SFACE_TEMPLATE, get_sface_net

    start = time.perf_counter()
    alpha = region_alpha(rgb.shape, face, opts)
    if not (alpha > 0).any():
        raise Fallback("face region is empty")
    try:
        matrix = align_matrix(face.landmarks, SFACE_TEMPLATE)
    except ValueError:
        raise Fallback("landmarks are degenerate") from None
    gray = bool((rgb.max(axis=2) - rgb.min(axis=2)).max() == 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        net = get_sface_net()
        rng = np.random.default_rng(opts.seed)
        problem = _problem(rgb, alpha, matrix, opts, net, rng)
        raw, steps = _optimise(problem, net, face, gray, rng, run or RunState())
    finally:
        torch.set_num_threads(threads)
    scale, out, ssim = _within_budget(rgb, raw, alpha, problem.dssim_cap)
    view = _attacker_view(rgb, out, alpha, face, opts, ssim)
    warning = view.pop("warning", None)
    info.update(view, scaled=round(scale, 3), steps=steps)
    info["seconds"] = round(time.perf_counter() - start, 2)
    if warning:
        info["warning"] = warning
    return out


@register(
    "cloak",
    "an adversarial perturbation within a perceptual budget: a visible face SFace does not match",
    reports=True,
    stateful=True,
)
def cloak_method(
    roi: np.ndarray, face: Face, opts: AnonymizeOptions, *, info: dict, run: RunState
) -> np.ndarray:
    return as_roi(cloak_face(to_rgb8(roi), face, opts, info, run), roi)
