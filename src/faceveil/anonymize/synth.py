"""``synth``: replace a face with a synthetic one that keeps its pose, light, skin tone, age,
gender and expression.

For each face:

1. align it to the generator's landmark template (64 px for the shipped DCGAN);
2. the amortised inversion encoder reads pose, expression, light and tone from that crop as a
   latent; it is mixed with new-identity latents drawn (seeded per face, or per track in video)
   from the generator's labelled latents nearest the face's apparent age, gender and smile:
   ``z = a * z_face + sqrt(1 - a^2) * z_new``;
3. the candidates are decoded and ranked on a copy where the face is ``SCOUT_SIDE`` px, by
   coarse shading error plus how far their apparent attributes are from the original's;
4. identity constraint (:class:`~faceveil.anonymize.replace.IdentityCheck`): the best
   ``CHECKS`` are pasted at full size in rank order and the first that SFace no longer
   matches wins; otherwise the next of ``ATTEMPTS`` lowers ``a``, and the last widens the oval;
5. a face that is too small or turned too far to replace, or that fails every try, raises
   :class:`~faceveil.anonymize.registry.Fallback`: the runner blurs it and reports why.

In video, faces on one track keep one new identity and a smoothed pose latent; the identity
search runs on a track's first frame only, and the synthetic face is decoded again every
``REDRAW_EVERY`` frames and in between only re-warped onto the moving landmarks, so it stays
fast and does not flicker.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import Fallback, register
from faceveil.anonymize.replace import (
    IDENTITY_LIMIT,
    IdentityCheck,
    align,
    attributes,
    model,
    replacing,
    scouting_copy,
)
from faceveil.anonymize.state import RunState, Tracked
from faceveil.faces import Face

CANDIDATES = 8
ATTRIBUTE_WEIGHT = 1000.0  # attribute cost against the coarse shading error (grey levels^2)
# Tried in turn: (share of the original's latent, widening of the face oval). The last
# reaches glasses and cheeks by which a recognizer can still tell the person.
ATTEMPTS = ((0.5, 1.0), (0.3, 1.0), (0.0, 1.0), (0.0, 1.25))
FAR_MISS = 0.1  # a try this far above the limit skips to the widened oval
CHECKS = 2  # identity checks (SFace, ~17 ms each) per attempt, best-fitting candidates first
REDRAW_EVERY = 4  # frames a track's face is re-warped before it is decoded again


def _identity_latents(seed: int, key: int, before, dim: int) -> np.ndarray:
    """Seeded new-identity latents; near the original's age, gender and expression when the
    generator has labelled latents (faceveil.gen.labelled)."""
    from faceveil.gen.labelled import load_labelled, nearest_latents

    rng = np.random.default_rng([seed, key])
    labelled = load_labelled(model()[0])
    if labelled is None:
        return rng.standard_normal((CANDIDATES, dim)).astype(np.float32)
    return nearest_latents(
        labelled, before.age, before.female_prob, before.emotions["happy"], CANDIDATES, rng
    )


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


def _attribute_cost(before, after) -> float:
    """How far the new face's apparent gender, age and expression are from the original's, in
    the units of :func:`~faceveil.anonymize.replace.coarse_error`'s typical spread."""
    gender = float(before.gender != after.gender)
    age = abs(before.age - after.age) / 10.0
    emotion = 0.5 * sum(abs(before.emotions[e] - after.emotions[e]) for e in before.emotions)
    emotion += float(before.emotion != after.emotion)
    return ATTRIBUTE_WEIGHT * (2.0 * gender + age + 1.5 * emotion)


def _mix_decode(generator, z_face: np.ndarray, z_new: np.ndarray, a: float) -> np.ndarray:
    return generator.decode(a * z_face + np.sqrt(1 - a * a) * z_new)


def replace_face(rgb: np.ndarray, face: Face, opts: AnonymizeOptions, run: RunState) -> np.ndarray:
    """`rgb` (H, W, 3) uint8 with `face` replaced by a synthetic face; raises Fallback."""
    from faceveil.gen.encoder import encode

    aligned = align(rgb, face)
    generator, encoder = model()
    key = (
        face.track_id
        if face.track_id is not None
        else zlib.crc32(np.round(np.asarray(face.box) / 4).astype(np.int32).tobytes())
    )

    def redraw(t: Tracked) -> np.ndarray:
        assert t.z_face is not None  # reuse redraws only tracks that keep a latent
        return _mix_decode(generator, t.z_face, *t.extra[:2])

    known = run.reuse(
        "synth",
        face.track_id,
        z_now=lambda: encode(encoder, aligned.crop),
        redraw=redraw,
        redraw_every=REDRAW_EVERY,
    )
    if known is not None:  # a known track: no search, the same new identity
        return aligned.widened(known.extra[2]).paste(rgb, known.face_rgb)
    z_face = encode(encoder, aligned.crop)
    small_rgb, small_face = scouting_copy(rgb, face)
    scout = align(small_rgb, small_face)
    before = attributes(small_rgb, small_face)
    check = IdentityCheck(rgb, face, opts)
    attempts = list(enumerate(ATTEMPTS))
    while attempts:
        attempt, (a, widen) = attempts.pop(0)
        z_new = _identity_latents(opts.seed, key * 8 + attempt, before, generator.latent_dim)
        faces = _mix_decode(generator, z_face, z_new, a)
        scored = [scout.widened(widen).paste_scored(small_rgb, c) for c in faces]
        seen = _attributes_side_by_side([out for out, _ in scored], small_face)
        ranked = sorted(
            (shading + _attribute_cost(before, after), i)
            for i, ((_, shading), after) in enumerate(zip(scored, seen, strict=True))
        )
        picks = [(z_new[i], faces[i]) for _, i in ranked[:CHECKS]]
        nearest = 1.0
        for z, candidate in picks:
            out = aligned.widened(widen).paste(rgb, candidate)
            similarity = check.similarity(out)
            if similarity < IDENTITY_LIMIT:
                run.remember("synth", face.track_id, Tracked(candidate, z_face, (z, a, widen)))
                return out
            nearest = min(nearest, similarity)
        if nearest > IDENTITY_LIMIT + FAR_MISS:  # glasses or hair give it away: widen at once
            attempts = attempts[-1:]
    raise Fallback("no synthetic face passed the identity check")


@register(
    "synth", "a synthetic face that keeps pose, light, age, gender and expression", stateful=True
)
@replacing
def synth(rgb: np.ndarray, face: Face, opts: AnonymizeOptions, *, run: RunState) -> np.ndarray:
    return replace_face(rgb, face, opts, run)
