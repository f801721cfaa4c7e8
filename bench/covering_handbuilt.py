"""The hand-built covering finder (skin model + SLIC + GrabCut), kept as the baseline that
:func:`faceveil.restore.find_covering` (a small learned segmenter) is measured against, and
for its skin model, which the learned one takes as an input channel.

The work happens in a face-aligned crop (the face frame of :mod:`faceveil.restore.occlusions`:
origin between the eyes, unit = the distance between the eyes), fitted on the detector's 5
landmarks, which a covering rarely moves much. The 468-point face mesh gives the face outline
when it agrees with those landmarks; a covering can pull the mesh off, and then a template
outline on the 5 landmarks is used instead.

1. Skin model: Lab statistics of five patches where skin should be (forehead, both cheeks,
   nose bridge, chin); the largest group of mutually consistent patches is taken as skin, so a
   covered cheek or chin does not poison the model.
2. Seeds: SLIC superpixels inside the face outline whose colour is far from the skin model,
   or which are flat (no facial detail) where a face has detail, grouped into connected
   regions; regions too small to be more than an eye, a brow, the lips or a nostril are
   dropped. No seed left: the face is uncovered and the mask is empty.
3. GrabCut, seeded with the covering regions as foreground and the skin patches, the forehead
   and everything above the eyes as background, grows the covering past the face outline
   (scarves, mask sides) along colour edges; then morphological cleaning (open, close, fill
   holes, keep regions touching a seed) and a minimum area.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceveil.restore.occlusions import face_frame, frame_scale

# Crop window in face-frame units (eyes at u = -0.5, 0.5, v = 0; chin at about v = 1.9).
U_RANGE = (-2.4, 2.4)
V_RANGE = (-1.2, 3.2)
V_TOP = -0.45  # nothing above this line (forehead, hair) is taken as covering
MIN_SEED_AREA = 0.3  # face-frame units^2: larger than an eye with its brow, or the lips
MIN_AREA = 0.25  # a final mask smaller than this (units^2) counts as no covering
GREY_LIGHT = 18.0  # brightness spread of skin in a grey photo (shading)
GRABCUT_ITERATIONS = 4
SAME_SKIN = (12.0, 6.0, 6.0)  # Lab differences between patches that still count as one skin
SKIN_DISTANCE = 3.0  # Mahalanobis distance from the skin model beyond which a region is not skin

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

# MediaPipe face-mesh indices: the face outline, and the points matching YuNet's 5 landmarks.
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]  # fmt: skip
MESH_5 = [(33, 133), (362, 263), (1,), (61,), (291,)]
MESH_MAX_ERROR = 0.3  # face-frame units between the mesh's 5 points and the landmarks'


def _template_oval() -> np.ndarray:
    """Face outline on the 5-landmark frame when the mesh is not trusted: brows to chin."""
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    u = 1.1 * np.cos(t)
    v = np.where(np.sin(t) > 0, 0.55 + 1.35 * np.sin(t), 0.55 + 1.25 * np.sin(t))
    return np.column_stack([u, v])


def _mesh_outline(rgb: np.ndarray, face, frame: np.ndarray, mesh) -> np.ndarray | None:
    """The mesh's face outline in face-frame units, or None when it disagrees with the
    landmarks (a covering pulled it off) or finds no face."""
    if mesh is None:
        from faceveil.models.facemesh import predict_mesh

        points, scores = predict_mesh(rgb, [face.box], [np.asarray(face.landmarks, np.float32)])
        if scores[0] < 0.5:
            return None
        mesh = points[0]
    mesh = np.asarray(mesh, np.float64).reshape(-1, 2)
    if mesh.shape[0] != 468 or not np.isfinite(mesh).all():
        return None
    inv = cv2.invertAffineTransform(frame)
    uv = mesh @ inv[:, :2].T + inv[:, 2]
    five = np.array([uv[list(ix)].mean(axis=0) for ix in MESH_5])
    lm = np.asarray(face.landmarks, np.float64).reshape(5, 2) @ inv[:, :2].T + inv[:, 2]
    if np.linalg.norm(five - lm, axis=1).max() > MESH_MAX_ERROR:
        return None
    return uv[FACE_OVAL]


def _skin_model(lab: np.ndarray, patches: dict[str, np.ndarray]) -> tuple:
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


def find_covering_handbuilt(image, face=None, *, mesh=None) -> np.ndarray:
    """Find the pixels covering a face (mask, scarf, sunglasses, hand), hand-built cues only.

    Parameters
    ----------
    image : path, encoded bytes or array (RGB/RGBA/gray, 8/16-bit), as everywhere in faceveil.
    face : :class:`faceveil.faces.Face`, or None for the largest face detected in `image`.
    mesh : optional (468, 2) face-mesh points of that face in image pixels (as
        :func:`faceveil.analyze` returns them); computed when None.

    Returns
    -------
    (H, W) bool array, image-sized: True where something covers the face. An uncovered face
    gives an all-False mask.
    """
    rgb, face, frame, scale = face_input(image, face)
    out = np.zeros(rgb.shape[:2], bool)

    # Face-aligned crop: s pixels per face-frame unit.
    s = float(np.clip(scale, 24, 56))
    cw, ch = int(round((U_RANGE[1] - U_RANGE[0]) * s)), int(round((V_RANGE[1] - V_RANGE[0]) * s))
    to_frame = np.array([[1 / s, 0, U_RANGE[0] + 0.5 / s], [0, 1 / s, V_RANGE[0] + 0.5 / s]])
    lin = frame[:, :2]
    crop_to_img = np.hstack([lin @ to_frame[:, :2], (lin @ to_frame[:, 2] + frame[:, 2])[:, None]])
    crop = cv2.warpAffine(
        rgb,
        crop_to_img,
        (cw, ch),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    valid = cv2.warpAffine(
        np.ones(rgb.shape[:2], np.uint8),
        crop_to_img,
        (cw, ch),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderValue=0,
    ).astype(bool)
    jj, ii = np.meshgrid(np.arange(cw), np.arange(ch))
    u, v = U_RANGE[0] + (jj + 0.5) / s, V_RANGE[0] + (ii + 0.5) / s

    outline = _mesh_outline(rgb, face, frame, mesh)
    if outline is None:
        outline = _template_oval()
    oval = np.zeros((ch, cw), np.uint8)
    pts = ((outline - [U_RANGE[0], V_RANGE[0]]) * s).round().astype(np.int32)
    cv2.fillPoly(oval, [cv2.convexHull(pts)], 1)
    oval = oval.astype(bool) & valid

    lab = cv2.cvtColor(cv2.GaussianBlur(crop, (0, 0), 0.04 * s + 0.3), cv2.COLOR_RGB2LAB)
    lab = lab.astype(np.float64)
    patches = {
        k: (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1) & valid
        for k, (u0, u1, v0, v1) in SKIN_PATCHES.items()
    }
    mean, icov, chosen = _skin_model(lab, patches)
    diff = lab - mean
    dist = np.sqrt(np.einsum("...i,ij,...j->...", diff, icov, diff))

    # Superpixels: decide per region, not per pixel.
    from skimage.segmentation import slic

    seg = slic(crop, n_segments=int(cw * ch / (0.12 * s) ** 2), compactness=10, start_label=0)
    nseg = seg.max() + 1
    counts = np.bincount(seg.ravel(), minlength=nseg)
    seg_dist = np.bincount(seg.ravel(), dist.ravel(), minlength=nseg) / np.maximum(counts, 1)
    seg_in = np.bincount(seg.ravel(), (oval & (v > V_TOP)).ravel(), minlength=nseg) / np.maximum(
        counts, 1
    )
    cand = ((seg_dist > SKIN_DISTANCE) & (seg_in > 0.5))[seg] & oval & (v > V_TOP)

    # Seeds: regions big enough to be a covering rather than an eye, a brow or the lips.
    n, labels, st, _ = cv2.connectedComponentsWithStats(cand.astype(np.uint8), connectivity=8)
    keep = [i for i in range(1, n) if st[i, cv2.CC_STAT_AREA] / s**2 >= MIN_SEED_AREA]
    if not keep:
        return out
    seed = np.isin(labels, keep)

    # GrabCut: grow the covering past the face outline along colour edges.
    gc = np.full((ch, cw), cv2.GC_PR_BGD, np.uint8)
    gc[seed] = cv2.GC_PR_FGD
    core = cv2.erode(
        seed.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, int(0.06 * s))
    )
    gc[core.astype(bool)] = cv2.GC_FGD
    for k in chosen:
        gc[patches[k] & ~seed] = cv2.GC_BGD
    gc[(v < V_TOP) | ~valid] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    if GRABCUT_ITERATIONS:
        cv2.grabCut(crop, gc, None, bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)

    # Cleaning: open/close, keep regions touching a seed, fill holes.
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * int(0.05 * s) + 1,) * 2)
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, k)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    touching = np.unique(labels[seed & (labels > 0)])
    mask = np.isin(labels, touching[touching > 0])
    from scipy.ndimage import binary_fill_holes

    mask = binary_fill_holes(mask) & valid
    if mask.sum() / s**2 < MIN_AREA:
        return out
    back = cv2.warpAffine(
        mask.astype(np.uint8) * 255,
        crop_to_img,
        (rgb.shape[1], rgb.shape[0]),
        flags=cv2.INTER_LINEAR,
        borderValue=0,
    )
    return back >= 128
