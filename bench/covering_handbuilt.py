"""The hand-built covering finder (skin model + SLIC + GrabCut): the baseline that
:func:`faceveil.restore.find_covering` (a small learned segmenter) is measured against in
bench/covering.py. Its cues (skin model, template outline) are in :mod:`faceveil.restore.cues`.

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

from faceveil.restore.cues import SKIN_PATCHES, face_input, skin_model, template_oval

# Crop window in face-frame units (eyes at u = -0.5, 0.5, v = 0; chin at about v = 1.9).
U_RANGE = (-2.4, 2.4)
V_RANGE = (-1.2, 3.2)
V_TOP = -0.45  # nothing above this line (forehead, hair) is taken as covering
MIN_SEED_AREA = 0.3  # face-frame units^2: larger than an eye with its brow, or the lips
MIN_AREA = 0.25  # a final mask smaller than this (units^2) counts as no covering
GRABCUT_ITERATIONS = 4
SKIN_DISTANCE = 3.0  # Mahalanobis distance from the skin model beyond which a region is not skin

# MediaPipe face-mesh indices: the face outline, and the points matching YuNet's 5 landmarks.
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]  # fmt: skip
MESH_5 = [(33, 133), (362, 263), (1,), (61,), (291,)]
MESH_MAX_ERROR = 0.3  # face-frame units between the mesh's 5 points and the landmarks'


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
        outline = template_oval()
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
    mean, icov, chosen = skin_model(lab, patches)
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
        # cv2's stubs want a rect; with GC_INIT_WITH_MASK OpenCV ignores it, None included.
        cv2.grabCut(  # type: ignore[call-overload]
            crop, gc, None, bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK
        )
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
