"""Find the pixels that cover a face: a medical or cloth mask, a scarf, sunglasses, a hand.

A small learned segmenter (:mod:`faceveil.restore.covering_net`, trained by
``scripts/train_covering.py`` on the procedural coverings of :mod:`.occlusions`) works on a
crop aligned on the detector's 5 landmarks (which a covering rarely moves much). Its input is
the crop plus the hand-built cues: a skin likelihood from a colour model of the visible skin
(the largest group of mutually consistent skin patches, see :mod:`.cues`), an
edge map, and the expected face region (fixed channels inside the net). Its covering
probability is warped back to the image, thresholded and cleaned: small specks are dropped,
and a total below a minimum area means "no covering" (an all-False mask).
"""

from __future__ import annotations

import functools
from importlib import resources

import cv2
import numpy as np

from faceveil.restore.cues import SKIN_PATCHES, face_input, skin_model, template_oval
from faceveil.restore.occlusions import face_frame, frame_scale

CROP = 96  # crop side, pixels
U_RANGE = (-2.4, 2.4)  # face-frame units (eyes at u = -0.5, 0.5, v = 0; chin at about v = 1.9)
V_RANGE = (-1.4, 3.4)
THRESHOLD = 0.5  # covering probability
MIN_PART = 0.04  # face-frame units^2: smaller connected parts are dropped as specks
MIN_AREA = 0.3  # units^2, below the smallest covering drawn (sunglasses, ~0.45): no covering
WEIGHTS = "covering_unet.pt"
N_DATA_CHANNELS = 6


def crop_matrix(landmarks) -> np.ndarray:
    """(2, 3) affine map from crop pixel (j, i) to image (x, y) for these 5 landmarks."""
    frame = face_frame(landmarks)
    s = CROP / (U_RANGE[1] - U_RANGE[0])
    to_frame = np.array([[1 / s, 0, U_RANGE[0] + 0.5 / s], [0, 1 / s, V_RANGE[0] + 0.5 / s]])
    lin = frame[:, :2]
    return np.hstack([lin @ to_frame[:, :2], (lin @ to_frame[:, 2] + frame[:, 2])[:, None]])


def frame_grid() -> tuple[np.ndarray, np.ndarray]:
    """(u, v) face-frame coordinates of the crop's pixel centres."""
    s = CROP / (U_RANGE[1] - U_RANGE[0])
    jj, ii = np.meshgrid(np.arange(CROP), np.arange(CROP))
    return U_RANGE[0] + (jj + 0.5) / s, V_RANGE[0] + (ii + 0.5) / s


def prior_channels() -> np.ndarray:
    """(3, CROP, CROP) fixed channels: u, v and the template face region (brows to chin)."""
    u, v = frame_grid()
    s = CROP / (U_RANGE[1] - U_RANGE[0])
    oval: np.ndarray = np.zeros((CROP, CROP), np.uint8)  # drawn in uint8, blurred in float
    pts = ((template_oval() - [U_RANGE[0], V_RANGE[0]]) * s).round().astype(np.int32)
    cv2.fillPoly(oval, [pts], 1)
    oval = cv2.GaussianBlur(oval.astype(np.float32), (0, 0), 2.0)
    return np.stack([u / 2, (v - 1) / 2, oval]).astype(np.float32)


def features(rgb: np.ndarray, landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Data channels of the aligned crop, (N_DATA_CHANNELS, CROP, CROP) float32, and the
    crop-to-image matrix. Channels: RGB standardised per crop, skin likelihood, edge
    magnitude, inside-the-image."""
    m = crop_matrix(landmarks)
    flags = cv2.INTER_AREA if frame_scale(face_frame(landmarks)) > 30 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(
        rgb, m, (CROP, CROP), flags=flags | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    valid = cv2.warpAffine(
        np.ones(rgb.shape[:2], np.uint8),
        m,
        (CROP, CROP),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderValue=0,
    ).astype(bool)
    u, v = frame_grid()
    lab = cv2.cvtColor(cv2.GaussianBlur(crop, (0, 0), 0.7), cv2.COLOR_RGB2LAB).astype(np.float64)
    patches = {
        k: (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1) & valid
        for k, (u0, u1, v0, v1) in SKIN_PATCHES.items()
    }
    if not any(p.sum() >= 4 for p in patches.values()):
        patches = {"all": valid | ~valid}
    try:
        mean, icov, _ = skin_model(lab, patches)
        diff = lab - mean
        dist = np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", diff, icov, diff), 0))
        skin = np.exp(-0.5 * np.minimum(dist, 10) ** 2 / 4)  # 1 = skin-like
    except (ValueError, np.linalg.LinAlgError, KeyError):
        skin = np.zeros((CROP, CROP))
    x = crop.astype(np.float32)
    x = (x - x.mean()) / (x.std() + 8.0)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    edge = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    edge = edge / (np.percentile(edge, 90) + 8.0)
    chans = np.concatenate([x.transpose(2, 0, 1), np.stack([skin, edge, valid])])
    return chans.astype(np.float32), m


@functools.lru_cache(maxsize=1)
def _model():
    import torch

    from faceveil.restore.covering_net import CoveringNet

    net = CoveringNet(N_DATA_CHANNELS, torch.from_numpy(prior_channels()))
    path = resources.files("faceveil") / "data" / WEIGHTS
    with resources.as_file(path) as p:
        net.load_state_dict(torch.load(p, map_location="cpu", weights_only=True))
    return net.eval()


def covering_probability(rgb: np.ndarray, landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Covering probability on the aligned crop (CROP, CROP) and the crop-to-image matrix."""
    import torch

    x, m = features(rgb, landmarks)
    with torch.no_grad():
        logit = _model()(torch.from_numpy(x)[None])[0].numpy()
    return 1 / (1 + np.exp(-logit)), m


def find_covering(image, face=None) -> np.ndarray:
    """Find the pixels covering a face (mask, scarf, sunglasses, hand).

    Parameters
    ----------
    image : path, encoded bytes or array (RGB/RGBA/gray, 8/16-bit), as everywhere in faceveil.
    face : :class:`faceveil.faces.Face`, or None for the largest face detected in `image`.

    Returns
    -------
    (H, W) bool array, image-sized: True where something covers the face. An uncovered face
    gives an all-False mask.
    """
    rgb, face, _, scale = face_input(image, face)
    prob, m = covering_probability(rgb, face.landmarks)
    return clean_mask(prob, m, rgb.shape[:2], scale)


def clean_mask(prob: np.ndarray, m: np.ndarray, shape, scale: float) -> np.ndarray:
    """Crop probability -> image-sized bool mask: threshold, drop specks, minimum area."""
    h, w = shape
    back = cv2.warpAffine(prob.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
    binary = (back >= THRESHOLD).astype(np.uint8)
    n, labels, st, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    keep = [i for i in range(1, n) if st[i, cv2.CC_STAT_AREA] >= MIN_PART * scale**2]
    mask = np.isin(labels, keep)
    if mask.sum() < MIN_AREA * scale**2:
        return np.zeros((h, w), bool)
    return mask
