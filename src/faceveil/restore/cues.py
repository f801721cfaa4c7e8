"""Cues of a covered face that both covering finders use: the face input they start from, the
colour model of the visible skin, and the template face outline on the 5-landmark frame."""

from __future__ import annotations

import numpy as np

from faceveil.restore.occlusions import face_frame, frame_scale

GREY_LIGHT = 18.0  # brightness spread of skin in a grey photo (shading)
SAME_SKIN = (12.0, 6.0, 6.0)  # Lab differences between patches that still count as one skin

# Skin patches: (u0, u1, v0, v1) in face-frame units.
SKIN_PATCHES = {
    "forehead": (-0.4, 0.4, -0.62, -0.38),
    "between eyes": (-0.1, 0.1, -0.15, 0.05),
    "right cheek": (-0.85, -0.5, 0.4, 0.65),
    "left cheek": (0.5, 0.85, 0.4, 0.65),
    "nose": (-0.08, 0.08, -0.05, 0.2),
    "chin": (-0.25, 0.25, 1.5, 1.7),
}
PATCH_WEIGHT = {
    "forehead": 2.0, "between eyes": 1.0, "right cheek": 1.0, "left cheek": 1.0, "nose": 1.5,
    "chin": 0.5,
}  # fmt: skip
UPPER_PATCHES = ("forehead", "between eyes", "nose")


def face_input(image, face):
    """What both covering finders start from: (RGB uint8 image, the face — the largest one
    detected when None —, its 5-landmark face frame, the frame's scale in pixels). One-line
    errors for no face, a non-Face, or a face too small."""
    from faceveil.faces import Face
    from faceveil.io.images import read_image, to_rgb8

    rgb = to_rgb8(read_image(image))
    if face is None:
        from faceveil.align import largest_face

        face = largest_face(rgb)
        if face is None:
            raise ValueError("no face found in the image")
    if not isinstance(face, Face):
        raise TypeError(f"face must be a faceveil.Face, got {type(face).__name__}")
    frame = face_frame(face.landmarks)
    scale = frame_scale(frame)
    if scale < 4:
        raise ValueError(f"face too small to analyse (eyes {scale:.1f} px apart)")
    return rgb, face, frame, scale


def template_oval() -> np.ndarray:
    """Face outline on the 5-landmark frame when the mesh is not trusted: brows to chin."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    u = 1.1 * np.cos(t)
    v = np.where(np.sin(t) > 0, 0.55 + 1.35 * np.sin(t), 0.55 + 1.25 * np.sin(t))
    return np.column_stack([u, v])


def skin_model(lab: np.ndarray, patches: dict[str, np.ndarray]) -> tuple:
    """Mean, inverse covariance of the skin, and the names of the patches taken as skin."""
    stats = {k: np.median(lab[m], axis=0) for k, m in patches.items() if m.sum() >= 4}
    colour = any(abs(m[1] - 128) > 1 or abs(m[2] - 128) > 1 for m in stats.values())
    # In a colour photo skin is warm (a, b above neutral): a blue, white or grey covering over a
    # patch cannot be taken for skin.
    if colour:
        stats = {k: m for k, m in stats.items() if m[1] >= 130 and m[2] >= 130} or stats
    names = list(stats)
    scale = np.array(SAME_SKIN)
    close = {a: [b for b in names if np.all(np.abs(stats[a] - stats[b]) <= scale)] for a in names}
    # Coverings sit on the lower face, so the upper patches weigh more; the group of mutually
    # consistent patches with the most weight is skin.
    # ... and contains the upper face, which masks, scarves and hands leave uncovered
    upper = [a for a in names if a in UPPER_PATCHES] or names
    best = max(upper, key=lambda a: sum(PATCH_WEIGHT[b] for b in close[a]))
    chosen = close[best]
    pixels = np.concatenate([lab[patches[k]] for k in chosen])
    # floor: lighting and noise; a grey photo has only brightness, which shading moves more
    floor = np.diag([12.0 if colour else GREY_LIGHT, 2.5, 2.5]) ** 2
    return np.median(pixels, axis=0), np.linalg.inv(np.cov(pixels.T) + floor), chosen
