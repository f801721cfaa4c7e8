"""Which generator fills a covered face: the one whose metadata best matches the visible face.

The seed picked a skin-tone model with a classifier. Here a generator's ``model.json`` tags
say what faces it draws (all optional):

- ``skin_tone``: one of :data:`SKIN_TONES` (the ITA classes of Chardon et al. 1991), or
  ``light``/``medium``/``dark`` (mapped onto them), or ``mixed``;
- ``age``: ``"20-40"`` (years) or one number, or ``mixed``;
- ``gender``: ``female``, ``male`` or ``mixed``.

The visible face is described by :class:`FaceProfile`: the skin tone measured on its visible
skin (the individual typology angle, ITA, of the median Lab colour), and the age and gender of
faceveil's attribute models. Each generator gets a distance (:func:`distance`); the smallest
wins, ties go to the default generator. Only generators with a landmark template are
candidates (the face is aligned to it).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

SKIN_TONES = ("very light", "light", "intermediate", "tan", "brown", "dark")
ITA_BOUNDS = (55.0, 41.0, 28.0, 10.0, -30.0)  # degrees: the lower edge of each class but the last
COARSE_TONES = {"light": 1.0, "medium": 2.5, "dark": 4.5}  # positions on the SKIN_TONES scale
AGE_SCALE = 20.0  # years outside a generator's range that cost as much as a wrong skin class
UNKNOWN = 0.5  # the cost of an attribute the generator does not declare (or cannot be measured)
MIN_SKIN_PIXELS = 30
GRAY_CHROMA = 2.0  # Lab a*/b* spread under which the photo is grey: no skin tone to measure


@dataclass
class FaceProfile:
    """What can be seen of a covered face."""

    skin_tone: str | None = None  # one of SKIN_TONES; None for grey photos or too little skin
    ita: float | None = None  # degrees
    age: float | None = None  # years
    gender: str | None = None  # "female" or "male"

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("ita", "age"):
            d[k] = None if d[k] is None else round(float(d[k]), 1)
        return d


@dataclass
class Selection:
    """The generator picked, why, and the distance of every candidate (smaller is better)."""

    name: str
    reason: str
    distances: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "model": self.name,
            "why": self.reason,
            "distances": {k: round(v, 3) for k, v in self.distances.items()},
        }


def ita_class(ita: float) -> str:
    for bound, name in zip(ITA_BOUNDS, SKIN_TONES, strict=False):
        if ita > bound:
            return name
    return SKIN_TONES[-1]


def skin_tone(rgb: np.ndarray, skin: np.ndarray) -> tuple[str | None, float | None]:
    """(ITA class, ITA in degrees) of the median colour of `rgb` where `skin` (bool) is set;
    (None, None) for a grey photo or too few skin pixels."""
    pixels = rgb[skin]
    if len(pixels) < MIN_SKIN_PIXELS:
        return None, None
    lab = cv2.cvtColor(pixels[None].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0]
    if np.abs(lab[:, 1:]).mean() < GRAY_CHROMA:
        return None, None
    light, b = float(np.median(lab[:, 0])), float(np.median(lab[:, 2]))
    ita = math.degrees(math.atan2(light - 50.0, b))
    return ita_class(ita), ita


def _tone_position(tag: str) -> float | None:
    tag = tag.strip().lower()
    if tag in SKIN_TONES:
        return float(SKIN_TONES.index(tag))
    return COARSE_TONES.get(tag)


def _age_range(tag: str) -> tuple[float, float] | None:
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", tag)]
    if len(numbers) == 1:
        return numbers[0], numbers[0]
    if len(numbers) == 2:
        return min(numbers), max(numbers)
    return None


def distance(profile: FaceProfile, tags: dict[str, str]) -> float:
    """How badly a generator with `tags` fits the visible face: 0 is a perfect fit; each
    attribute adds up to 1 (a mismatch), or UNKNOWN when either side does not say."""
    total = 0.0
    tone = _tone_position(tags.get("skin_tone", ""))
    if profile.skin_tone is None or tone is None:
        total += UNKNOWN
    else:
        total += abs(SKIN_TONES.index(profile.skin_tone) - tone) / (len(SKIN_TONES) - 1)
    ages = _age_range(tags.get("age", ""))
    if profile.age is None or ages is None:
        total += UNKNOWN
    else:
        outside = max(ages[0] - profile.age, 0.0, profile.age - ages[1])
        total += min(1.0, outside / AGE_SCALE)
    gender = tags.get("gender", "").strip().lower()
    if profile.gender is None or gender not in ("female", "male"):
        total += UNKNOWN
    else:
        total += 0.0 if gender == profile.gender else 1.0
    return total


def candidates() -> list:
    """GeneratorInfo of every registered generator that can fill a face (it has a landmark
    template to align to)."""
    from faceveil.gen.registry import list_generators

    return [i for i in list_generators() if i.landmark_template is not None]


def select(profile: FaceProfile | None, infos: list, default: str | None = None) -> Selection:
    """The best of `infos` (GeneratorInfo, or anything with ``name`` and ``tags``) for the
    face described by `profile` (None: not measured, every generator is equally good)."""
    from faceveil.gen.registry import DEFAULT_GENERATOR

    default = default or DEFAULT_GENERATOR
    if not infos:
        raise ValueError("no generator with a landmark template is registered")
    if len(infos) == 1:
        name = infos[0].name
        return Selection(name, f"only one generator registered ({name}): nothing to choose from")
    profile = profile or FaceProfile()
    dist = {i.name: distance(profile, i.tags or {}) for i in infos}
    best = min(dist, key=lambda n: (round(dist[n], 6), n != default, n))
    tied = [n for n in dist if abs(dist[n] - dist[best]) < 1e-6]
    seen = ", ".join(f"{k} {v}" for k, v in profile.to_dict().items() if v is not None)
    tags = infos[[i.name for i in infos].index(best)].tags or {}
    declared = ", ".join(f"{k}={tags[k]}" for k in ("skin_tone", "age", "gender") if k in tags)
    reason = (
        f"closest metadata ({declared or 'no skin_tone/age/gender tags'}) to the visible face "
        f"({seen or 'nothing measurable'}): distance {dist[best]:.2f}"
    )
    if len(tied) > 1:
        why = "the default" if best == default else "first by name"
        reason += f"; tied with {', '.join(n for n in tied if n != best)}, picked as {why}"
    return Selection(best, reason, dist)


def measure_profile(rgb: np.ndarray, face, mask: np.ndarray) -> FaceProfile:
    """Skin tone of the visible skin (inner 60 % of the face box, less the covering mask),
    and the attribute models' age and gender of the face."""
    from faceveil.analysis.attributes import analyze_faces  # onnxruntime: load on use

    h, w = mask.shape
    x, y, bw, bh = face.box
    x0, x1 = int(max(0, x + 0.2 * bw)), int(min(w, x + 0.8 * bw))
    y0, y1 = int(max(0, y + 0.2 * bh)), int(min(h, y + 0.8 * bh))
    skin = np.zeros_like(mask)
    skin[y0:y1, x0:x1] = True
    tone, ita = skin_tone(rgb, skin & ~mask)
    attrs = analyze_faces(rgb, [face], mesh=False, align="landmarks")[0]
    return FaceProfile(tone, ita, float(attrs.age), attrs.gender)


def pick_generator(rgb: np.ndarray, face, mask: np.ndarray, model: str = "auto", profile=None):
    """(generator, its encoder or None, :class:`Selection`) for filling `face`: the named
    `model`, or with ``auto`` the best metadata match (the face is only analysed when there
    is more than one candidate)."""
    from faceveil.gen.encoder import load_encoder
    from faceveil.gen.registry import get_generator

    if model != "auto":
        generator = get_generator(model)
        if generator.landmark_template is None:
            from faceveil.errors import InputError

            raise InputError(f"generator {model} has no landmark template to align a face to")
        selection = Selection(generator.name, "asked for by name")
    else:
        infos = candidates()
        if len(infos) > 1 and profile is None:
            profile = measure_profile(rgb, face, mask)
        selection = select(profile, infos)
        if profile is not None and len(infos) > 1:
            selection.reason += f" [visible face: {profile.to_dict()}]"
        generator = get_generator(selection.name)
    return generator, load_encoder(generator), selection
