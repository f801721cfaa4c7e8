"""``ksame``: replace a face with the average of its k nearest identities from a gallery.

This is k-Same-Pixel (Newton, Sweeney and Malin, 2005) with a fixed gallery. Every gallery
identity is one face aligned to the generator's landmark template (64 px for the shipped
DCGAN). For a face:

1. it is aligned to the same template and labelled by faceveil's attribute models (apparent
   age, P(female), P(happy));
2. the k gallery identities nearest in those labels are chosen, and their aligned crops are
   averaged pixel by pixel (nearest in labels, not by SFace, which kept gender and expression
   less often);
3. the average is colour-matched to the face (Lab mean and spread), enlarged and blended in on
   the template's face oval as ``synth`` does; grayscale faces stay grayscale;
4. identity check: SFace on the *original* landmarks must score the result at least
   ``replace.IDENTITY_MARGIN`` below the calibrated threshold against the original, as the
   runner leaves it (blended through the feathered region) and with the region mirrored
   outwards, since the original's own surroundings raise the similarity. If the check fails,
   the next disjoint k-set (ranks k..2k-1, ...) is tried, up to ``MAX_SETS``, then the same
   sets again on a 1.25x wider oval that covers glasses and cheeks; then, as for a face too
   small or turned too far, :class:`~faceveil.anonymize.registry.Fallback` (blur).

Galleries. By default, a synthetic gallery: ``FACEVEIL_KSAME_SAMPLES`` (1000) samples of the
default generator drawn with seed 0, kept where YuNet finds a face, and thinned so that no two
kept identities score at or above the SFace threshold (DCGAN faces look alike to SFace: 170 of
1000 remain), then labelled. It is built once (18 s on an idle 2-core machine) and cached in
``$XDG_CACHE_HOME/faceveil`` (``~/.cache/faceveil``). Or ``gallery=FOLDER``: the largest face
of every photo in it; photos of one person (SFace at or above the threshold, linked
transitively) are merged into one identity, the average of their crops, so that k identities
are k different people. Unreadable or faceless files are skipped with a warning; fewer than k
identities is an error.

What it guarantees. Inside the face oval the output is a function of the chosen k-set, plus the
original's mean colour and contrast (colour matching) and the blend at the oval's edge; and the
k-set is a function of the original's apparent age, gender and expression only. So a
recognizer that compares the output with the gallery cannot tell which of those k identities,
if any, it came from: it is linked to no fewer than k gallery identities. With the synthetic
gallery none of them is a real person.

Its limits. This is not the classic k-Same guarantee over a set of probe faces (that needs the
probe faces themselves clustered into groups of k, each replaced by its group's average, so
that every output stands for k real people): here the k people are gallery identities, and an
attacker learns the original's apparent age, gender and expression from the k-set, as from the
output. What lies outside the oval (hair, ears, face outline, clothes, background) and the skin
tone still identify, as for every method; the same-photo check bounds how much, but an attacker
with a handful of candidates and other photos of them can still rank them. Averages are smooth,
tend towards the mean face as k grows, and attributes may drift.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, embed_faces
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import Fallback, register
from faceveil.anonymize.replace import (
    IdentityCheck,
    align,
    attributes,
    model,
    replacing,
    tracked_paste,
)
from faceveil.anonymize.state import RunState, Tracked
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.cache import cache_dir

log = logging.getLogger(__name__)

SAMPLES = 1000  # generator samples drawn for the synthetic gallery; FACEVEIL_KSAME_SAMPLES
GALLERY_SEED = 0
MAX_SETS = 8  # disjoint k-sets tried, nearest first
# Region widenings (composite.region_mask), tried in turn over the k-sets: k-Same puts the
# average over the whole face, so it starts past synth's inner face; the wider one reaches
# glasses and cheeks, by which SFace can still know a face under every narrower average.
WIDEN = (1.15, 1.3)
# Label distance: 10 years of age weigh as much as 0.5 of P(female) or 1.0 of P(happy).
LABEL_WEIGHTS = np.array([0.1, 2.0, 1.0], np.float32)
CACHE_VERSION = 2  # bump when the gallery's contents change meaning


@dataclass(frozen=True)
class IdentityPool:
    """The k-Same gallery, the identities to average: an aligned crop, a unit SFace embedding
    and labels each (not :class:`faceveil.analysis.gallery.Gallery`, the 1:N search one)."""

    crops: np.ndarray  # (M, res, res, 3) uint8, aligned to the generator's landmark template
    embeddings: np.ndarray  # (M, 128) float32, unit length
    labels: np.ndarray  # (M, 3) float32: age in years, P(female), P(happy); NaN if unknown
    source: str  # where it came from, for messages

    def __len__(self) -> int:
        return len(self.crops)

    def k_sets(self, labels: np.ndarray, k: int, limit: int = MAX_SETS) -> list[np.ndarray]:
        """Disjoint k-sets of identity indices, the nearest to `labels` first (ties by index;
        identities without labels last)."""
        distance = (np.abs(self.labels - labels) * LABEL_WEIGHTS).sum(axis=1)
        order = np.argsort(np.nan_to_num(distance, nan=np.inf), kind="stable")
        return [order[i : i + k] for i in range(0, len(order) - k + 1, k)][:limit]

    def average(self, members: np.ndarray) -> np.ndarray:
        """The pixel average of the members' aligned crops (k-Same-Pixel)."""
        return np.rint(self.crops[members].astype(np.float32).mean(axis=0)).astype(np.uint8)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def _distinct(embeddings: np.ndarray, threshold: float = SFACE_THRESHOLD) -> list[int]:
    """Greedy in index order: keep a face unless it matches one already kept."""
    keep: list[int] = []
    for i, e in enumerate(embeddings):
        if not keep or float((embeddings[keep] @ e).max()) < threshold:
            keep.append(i)
    return keep


def _merge(
    crops, embeddings, labels, threshold: float = SFACE_THRESHOLD
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces that match (transitively) become one identity: mean crop, embedding, labels."""
    n = len(embeddings)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sims = embeddings @ embeddings.T
    for i, j in zip(*np.nonzero(np.triu(sims >= threshold, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    members = sorted(groups.values())
    merged = [np.rint(crops[g].astype(np.float32).mean(axis=0)).astype(np.uint8) for g in members]
    return (
        np.stack(merged),
        _unit(np.stack([embeddings[g].mean(axis=0) for g in members])),
        np.stack([labels[g].mean(axis=0) for g in members]),
    )


def gallery_samples() -> int:
    raw = os.environ.get("FACEVEIL_KSAME_SAMPLES", "")
    try:
        n = int(raw) if raw else SAMPLES
    except ValueError:
        raise InputError(f"FACEVEIL_KSAME_SAMPLES must be a whole number, got {raw!r}") from None
    if n < 2:
        raise InputError(f"FACEVEIL_KSAME_SAMPLES must be at least 2, got {n}")
    return n


def synthetic_gallery(samples: int | None = None, seed: int = GALLERY_SEED) -> IdentityPool:
    """The default generator's gallery of `samples` seeded draws (cached on disk and in memory)."""
    generator, _ = model()
    return _synthetic(generator.name, samples or gallery_samples(), seed)


@functools.lru_cache(maxsize=4)
def _synthetic(name: str, samples: int, seed: int) -> IdentityPool:
    generator, _ = model()
    path = cache_dir() / f"ksame-{name}-n{samples}-s{seed}-v{CACHE_VERSION}.npz"
    source = f"synthetic gallery ({name}, {samples} samples, seed {seed})"
    try:
        with np.load(path, allow_pickle=False) as data:
            return IdentityPool(data["crops"], data["embeddings"], data["labels"], source)
    except (OSError, KeyError, ValueError):
        pass  # missing or damaged: rebuild
    log.info("building the %s (once)", source)
    arrays = _build_synthetic(generator, samples, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, crops=arrays[0], embeddings=arrays[1], labels=arrays[2])
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home still works, just slower next time
        log.warning("cannot cache the ksame gallery in %s (%s)", path.parent, exc)
    return IdentityPool(*arrays, source)


def _aligned(rgb: np.ndarray, landmarks: np.ndarray, template: np.ndarray, res: int):
    """The face warped onto the template; edges replicated, so no border colour is averaged."""
    from faceveil.align import align_matrix

    m = align_matrix(landmarks, template)
    return cv2.warpAffine(rgb, m, (res, res), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def _labels(rgb: np.ndarray, face: Face) -> np.ndarray:
    """Age in years, P(female) and P(happy) of a face, by faceveil's attribute models."""
    a = attributes(rgb, face)
    return np.array([a.age, a.female_prob, a.emotions["happy"]], np.float32)


def _build_synthetic(
    generator, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from faceveil.detect import detect
    from faceveil.gen.directions import framed

    res, template = generator.resolution, generator.landmark_template
    crops, embeddings = [], []
    z = generator.sample_latents(samples, seed=seed)
    for start in range(0, samples, 64):
        for img in generator.decode(z[start : start + 64]):
            canvas = framed(img)  # a 2x copy in a grey border, so that YuNet finds the face
            faces = detect(canvas, small_faces=False, max_side=None, recall="fast")
            if faces:
                crops.append(_aligned(img, (faces[0].landmarks - res) / 2, template, res))
                embeddings.append(embed_faces(canvas, faces[:1])[0])
    if not crops:
        raise InputError(f"no face detected in {samples} samples of {generator.name}")
    keep = _distinct(np.stack(embeddings))
    kept = np.stack(crops)[keep]
    labels = np.full((len(kept), 3), np.nan, np.float32)
    for i, crop in enumerate(kept):  # labelled as aligned, only the identities kept
        canvas = framed(crop)
        faces = detect(canvas, small_faces=False, max_side=None, recall="fast")
        if faces:
            labels[i] = _labels(canvas, faces[0])
    return kept, _unit(np.stack(embeddings)[keep]), labels


def user_gallery(folder: str | Path) -> IdentityPool:
    """The identities in a folder of photos (cached in memory until a file changes)."""
    from faceveil.io.images import IMAGE_EXTENSIONS

    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise InputError(f"gallery {folder}: no such folder")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _user(str(folder), signature)


@functools.lru_cache(maxsize=4)
def _user(folder: str, signature: tuple) -> IdentityPool:
    from faceveil.align import largest_face
    from faceveil.io.images import read_image, to_rgb8

    generator, _ = model()
    crops, embeddings, labels = [], [], []
    for file, _, _ in signature:
        try:
            rgb = to_rgb8(read_image(file))
        except InputError as exc:
            log.warning("gallery: %s, skipped", str(exc).splitlines()[0])
            continue
        face = largest_face(rgb)
        if face is None:
            log.warning("gallery: %s: no face found, skipped", file)
            continue
        crops.append(
            _aligned(rgb, face.landmarks, generator.landmark_template, generator.resolution)
        )
        embeddings.append(embed_faces(rgb, [face])[0])
        labels.append(_labels(rgb, face))
    source = f"gallery {folder}"
    if not crops:
        empty = np.zeros((0, 3), np.float32)
        return IdentityPool(np.zeros((0, 1, 1, 3), np.uint8), np.zeros((0, 128)), empty, source)
    merged = _merge(np.stack(crops), _unit(np.stack(embeddings)), np.stack(labels))
    return IdentityPool(*merged, source)


def gallery_for(opts: AnonymizeOptions) -> IdentityPool:
    """The user's gallery or the synthetic one, checked to hold at least k identities."""
    gallery = synthetic_gallery() if opts.gallery is None else user_gallery(opts.gallery)
    if len(gallery) < opts.k:
        hint = "add photos of other people" if opts.gallery else "raise FACEVEIL_KSAME_SAMPLES"
        raise InputError(
            f"{gallery.source} has {len(gallery)} distinct identities, fewer than k={opts.k}: "
            f"lower --k or {hint}"
        )
    return gallery


def replace_face(rgb: np.ndarray, face: Face, opts: AnonymizeOptions, run: RunState) -> np.ndarray:
    """`rgb` (H, W, 3) uint8 with `face` replaced by a k-average; raises Fallback."""
    gallery = gallery_for(opts)  # first: a bad gallery is an error, not a blurred face
    known = run.reuse("ksame", face.track_id)
    if known is not None:  # a known track keeps its k-set
        return tracked_paste(rgb, face, known, known.extra)
    aligned = align(rgb, face)  # Fallback for a face too small or turned too far
    check = IdentityCheck(rgb, face, opts)
    sets = gallery.k_sets(_labels(rgb, face), opts.k)
    for widen in WIDEN:
        oval = aligned.widened(widen)
        for members in sets:
            average = gallery.average(members)
            out = oval.paste(rgb, average)
            if check.hidden(out):
                run.remember("ksame", face.track_id, Tracked(average, extra=widen))
                return out
    raise Fallback(f"no average of {opts.k} gallery identities passed the identity check")


@register(
    "ksame",
    "the average of the k nearest gallery identities (k-Same); identity checked",
    stateful=True,
)
@replacing
def ksame(rgb: np.ndarray, face: Face, opts: AnonymizeOptions, *, run: RunState) -> np.ndarray:
    return replace_face(rgb, face, opts, run)
