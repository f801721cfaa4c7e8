"""``attributes``: hide who a person is by changing what they look like (age, gender, smile).

``--method attributes --edit age=+2,gender=flip,smile=-1``; for each face:

1. invert it: the amortised encoder reads its latent from the face aligned to the template;
2. move the latent along the generator's attribute directions (``faceveil.gen.directions``, the
   orthogonalised ones, so an age edit changes gender less). Amounts are in z units (one
   standard deviation of the latent distribution); ``flip`` moves gender or smile to the other
   side of what faceveil's own models see in the face, ``FLIP_TO`` units past the boundary;
3. decode, colour-match and blend the edited face back as ``synth`` does;
4. audit it: SFace on the original landmarks must score the result ``IDENTITY_MARGIN`` under
   the calibrated threshold. If not, the edit is strengthened (``STRENGTHS``) and tried again;
   a face still recognisable at the strongest edit, or one too small or turned to replace,
   falls back to blur, and the report says so.

What changed is measured with the analysis models (age, gender, expression before and after)
and reported per face (``face_details`` in the JSON report).

The inversion is the encoder's (40 ms), which carries pose, light and expression but only part
of the identity: the decoded face already differs from the person before any edit, so this
method hides identity by inversion *and* edit, and the report states the SFace similarity.
"""

from __future__ import annotations

import numpy as np

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import Fallback, register
from faceveil.anonymize.replace import (
    IDENTITY_LIMIT,
    IdentityCheck,
    align,
    as_roi,
    attributes,
    model,
)
from faceveil.anonymize.state import RunState, Tracked
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.images import to_rgb8

DEFAULT_EDIT = "age=+2,gender=flip"
FLIP_WORD = "flip"
FLIPPABLE = ("gender", "smile")  # binary attributes: flip means the other side
FLIP_TO = 3.0  # z units past the boundary a flipped attribute lands
STRENGTHS = (1.0, 1.5, 2.0, 3.0, 4.0)  # edit multiples tried until identity is hidden
AGE_CHANGED = 5.0  # years: a smaller change of the estimated age is not reported as changed


def parse_edit(text: str | None) -> dict[str, float | str]:
    """``"age=+2,gender=flip"`` -> ``{"age": 2.0, "gender": "flip"}``; InputError if bad.

    Names are checked against the directions of the default generator when used.
    """
    from faceveil.gen.changes import parse_changes

    try:
        changes = parse_changes(DEFAULT_EDIT if text is None else text, (FLIP_WORD,))
    except ValueError as exc:
        raise InputError(f"--edit: {exc}") from None
    for name, amount in changes.items():
        if amount == FLIP_WORD and name not in FLIPPABLE:
            raise InputError(f"--edit: only {' and '.join(FLIPPABLE)} can flip, not {name!r}")
    return changes


def edit_vector(z: np.ndarray, changes: dict[str, float | str], before) -> np.ndarray:
    """The latent offset of `changes` for a face with latent `z` and attributes `before`."""
    from faceveil.gen.directions import load_directions

    directions = load_directions(model()[0])
    offset = np.zeros_like(z)
    for name, amount in changes.items():
        try:
            v = directions.vector(name)
        except InputError as exc:
            raise InputError(f"--edit: {exc}") from None
        if amount == FLIP_WORD:  # + is more female / more smiling
            now = before.female_prob if name == "gender" else before.emotions["happy"]
            target = -FLIP_TO if now >= 0.5 else FLIP_TO
            amount = target - float(z @ v)
        offset += np.float32(amount) * v
    return offset


def _summary(a) -> dict:
    return {"age": round(a.age, 1), "gender": a.gender, "emotion": a.emotion}


def changed_attributes(before, after) -> list[str]:
    """Which of age, gender and expression the analysis models see differently."""
    changed = []
    if abs(after.age - before.age) >= AGE_CHANGED:
        changed.append("age")
    if after.gender != before.gender:
        changed.append("gender")
    if after.emotion != before.emotion:
        changed.append("expression")
    return changed


def edit_face(
    rgb: np.ndarray, face: Face, opts: AnonymizeOptions, info: dict, run: RunState
) -> np.ndarray:
    """`rgb` (H, W, 3) uint8 with `face` edited until it is not recognised; raises Fallback."""
    from faceveil.gen.encoder import encode

    changes = parse_edit(opts.edit)
    aligned = align(rgb, face)
    generator, encoder = model()
    known = run.reuse(
        "attributes",
        face.track_id,
        z_now=lambda: encode(encoder, aligned.crop),
        redraw=lambda t: generator.decode(t.z_face + t.extra),
    )
    if known is not None:  # a known track: the same edit, smoothed
        return aligned.paste(rgb, known.face_rgb)
    z_face = encode(encoder, aligned.crop)
    before = attributes(rgb, face)
    check = IdentityCheck(rgb, face, opts)
    offset = edit_vector(z_face, changes, before)
    for strength in STRENGTHS:
        face_rgb = generator.decode(z_face + strength * offset)
        out = aligned.paste(rgb, face_rgb)
        similarity = check.similarity(out)
        if similarity < IDENTITY_LIMIT:
            after = attributes(out, face)
            info.update(
                edit={k: (v if isinstance(v, str) else v * strength) for k, v in changes.items()},
                strength=strength,
                identity_similarity=round(similarity, 3),
                before=_summary(before),
                after=_summary(after),
                changed=changed_attributes(before, after),
            )
            run.remember("attributes", face.track_id, Tracked(face_rgb, z_face, strength * offset))
            return out
    raise Fallback(f"still recognisable (SFace {similarity:.2f}) after a {STRENGTHS[-1]:g}x edit")


@register(
    "attributes",
    "the face's own latent moved along age, gender and smile directions until not recognised",
    reports=True,
    stateful=True,
    validate=lambda opts: parse_edit(opts.edit),  # bad syntax fails before any file is read
)
def attributes_method(
    roi: np.ndarray, face: Face, opts: AnonymizeOptions, *, info: dict, run: RunState
) -> np.ndarray:
    return as_roi(edit_face(to_rgb8(roi), face, opts, info, run), roi)
