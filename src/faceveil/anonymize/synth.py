"""``synth``: replace a face with a synthetic one that keeps its pose, light, skin tone, age,
gender and expression.

For each face:

1. new identities are drawn (seeded per face, or per track in video) from the generator's
   curated labelled latents nearest the face's apparent age, gender and smile;
2. samples the critic of :mod:`faceveil.gen.quality` calls broken are set aside (the curated
   latents pass it, other generators may not); the rest are composited
   (:mod:`faceveil.anonymize.composite`: warped onto the original's face mesh, relit with its
   shading, colour and grain) on a copy where the face is ``SCOUT_SIDE`` px, and ranked by
   coarse shading error plus how far their apparent attributes are from the original's;
3. identity constraint (:class:`~faceveil.anonymize.replace.IdentityCheck`): the best
   candidates are composited at full size in rank order; those the quality gate
   (:mod:`faceveil.anonymize.quality`) calls broken are passed over, and the first of the
   next ``CHECKS`` that SFace no longer matches wins;
   otherwise the next of ``WIDENINGS`` lets the region reach further out;
4. a face that is too small or turned too far to replace, or that fails every try, raises
   :class:`~faceveil.anonymize.registry.Fallback`: the runner blurs it and reports why.

In video, faces on one track keep one new identity: the search runs on a track's first frame
only, and on later frames the same face is warped onto that frame's mesh, so it follows pose
and expression without flicker.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.quality import MAX_DARK
from faceveil.anonymize.registry import Fallback, register
from faceveil.anonymize.replace import (
    IDENTITY_LIMIT,
    IdentityCheck,
    align,
    attributes,
    model,
    replacing,
    scouting_copy,
    tracked_paste,
)
from faceveil.anonymize.state import RunState, Tracked
from faceveil.faces import Face
from faceveil.gen.quality import critique

CANDIDATES = 8
ATTRIBUTE_WEIGHT = 1000.0  # attribute cost against the coarse shading error (grey levels^2)
# Tried in turn, each with a new draw: how far the replaced region reaches past the face's
# outline. Small steps: a wider region soon takes in the generator's hair, which the gate
# rejects, while a new draw often hides the identity where the last one did not.
WIDENINGS = (1.0, 1.05, 1.1, 1.15)
FAR_MISS = 0.1  # a try this far above the limit skips to the widest region
CHECKS = 3  # identity checks (SFace) per attempt, best-fitting candidates first


def _identity_latents(seed: int, key: int, before, generator) -> tuple[np.ndarray, bool]:
    """Seeded new-identity latents, and whether they are curated: near the original's age,
    gender and expression from the generator's labelled latents (faceveil.gen.labelled, which
    the sample critic has passed), else random ones."""
    from faceveil.gen.labelled import load_labelled, nearest_latents

    rng = np.random.default_rng([seed, key])
    labelled = load_labelled(generator)
    if labelled is None:
        return rng.standard_normal((CANDIDATES, generator.latent_dim)).astype(np.float32), False
    happy = before.emotions["happy"]
    return nearest_latents(labelled, before.age, before.female_prob, happy, CANDIDATES, rng), True


def _attributes_side_by_side(images: list[np.ndarray], face: Face) -> list:
    """The attributes of `face` in each of several same-sized images, in one batched call
    (the age and gender models cost half as much per face in a batch)."""
    from faceveil.analysis.attributes import analyze_faces

    width = images[0].shape[1]
    shifted = [
        dataclasses.replace(
            face,
            box=(face.box[0] + i * width, *face.box[1:]),
            landmarks=face.landmarks + np.array([i * width, 0], np.float32),
        )
        for i in range(len(images))
    ]
    return analyze_faces(np.concatenate(images, axis=1), shifted, mesh=False, align="landmarks")


def _scouted(scout, small_rgb: np.ndarray, faces: np.ndarray) -> list[tuple]:
    """(result, coarse shading error, dark-patch share) of each candidate on the scouting
    copy, placed roughly (the generator's mean face): enough to rank them."""
    scored = []
    for candidate in faces:
        out, shading = scout.paste_scored(small_rgb, candidate, rough=True)
        scored.append((out, shading, scout.dark_patch(small_rgb, out)))
    return scored


def _ranked(before, scored: list[tuple], seen: list) -> list[tuple[bool, int]]:
    """(other gender?, index) of the candidates, best first: by coarse shading error plus the
    attribute cost, those read as the other gender, then those with a likely dark patch, last."""
    keys = sorted(
        (
            before.gender != after.gender,
            dark > MAX_DARK,
            shading + _attribute_cost(before, after),
            i,
        )
        for i, ((_, shading, dark), after) in enumerate(zip(scored, seen, strict=True))
    )
    return [(other_gender, i) for other_gender, *_, i in keys]


def _attribute_cost(before, after) -> float:
    """How far the new face's apparent gender, age and expression are from the original's, in
    the units of :func:`~faceveil.anonymize.replace.coarse_error`'s typical spread."""
    gender = float(before.gender != after.gender)
    age = abs(before.age - after.age) / 10.0
    emotion = 0.5 * sum(abs(before.emotions[e] - after.emotions[e]) for e in before.emotions)
    emotion += float(before.emotion != after.emotion)
    return ATTRIBUTE_WEIGHT * (2.0 * gender + age + 1.5 * emotion)


def replace_face(rgb: np.ndarray, face: Face, opts: AnonymizeOptions, run: RunState) -> np.ndarray:
    """`rgb` (H, W, 3) uint8 with `face` replaced by a synthetic face; raises Fallback."""
    known = run.reuse("synth", face.track_id)
    if known is not None:  # a known track: no search, the same face on this frame
        return tracked_paste(rgb, face, known, known.extra)
    aligned = align(rgb, face)
    generator, _ = model()
    template = generator.landmark_template
    key = (
        face.track_id
        if face.track_id is not None
        else zlib.crc32(np.round(np.asarray(face.box) / 4).astype(np.int32).tobytes())
    )
    small_rgb, small_face = scouting_copy(rgb, face)
    scout = align(small_rgb, small_face)
    before = attributes(small_rgb, small_face)
    check = IdentityCheck(rgb, face, opts)
    flaws: list[str] = []
    identity_failed = False
    attempts = list(enumerate(WIDENINGS))
    while attempts:
        attempt, widen = attempts.pop(0)
        z_new, curated = _identity_latents(opts.seed, key * 8 + attempt, before, generator)
        faces = generator.decode(z_new)
        scored = _scouted(scout.widened(widen), small_rgb, faces)
        seen = _attributes_side_by_side([out for out, *_ in scored], small_face)
        nearest, checked = 1.0, 0
        for other_gender, i in _ranked(before, scored, seen):  # gate first: cheaper than SFace
            if other_gender and attempts:  # the next attempt's draw may keep the gender
                continue
            if not curated and (failed := critique(faces[i : i + 1], template).failures(0)):
                flaws.append(f"the generated sample fails {', '.join(failed)}")
                continue
            region = aligned.widened(widen)
            out = region.paste(rgb, faces[i])
            broken = region.flaw(rgb, out)
            if broken is not None:
                flaws.append(broken)
                continue
            similarity = check.similarity(out)
            if similarity < IDENTITY_LIMIT:
                run.remember("synth", face.track_id, Tracked(faces[i], extra=widen))
                return out
            nearest, checked = min(nearest, similarity), checked + 1
            if checked == CHECKS:
                break
        if checked and nearest > IDENTITY_LIMIT + FAR_MISS:  # glasses or hair: widen at once
            attempts = attempts[-1:]
        identity_failed = identity_failed or checked > 0
    if flaws and not identity_failed:
        raise Fallback(f"every synthetic face looked broken ({flaws[0]})")
    raise Fallback("no synthetic face passed the identity check")


@register(
    "synth", "a synthetic face that keeps pose, light, age, gender and expression", stateful=True
)
@replacing
def synth(rgb: np.ndarray, face: Face, opts: AnonymizeOptions, *, run: RunState) -> np.ndarray:
    return replace_face(rgb, face, opts, run)
