"""The quality gate: does a composited face look broken?

A blurred face is better than a broken one, so a replacement that fails here is not used: the
method tries its next candidate and, when none passes, falls back to blur and says why. Each
test compares the result with the photo in the aligned crop, inside the replaced region:

- **dark patch**: skin of the new face (eyes, brows, lips and nostrils left out) much darker
  than its bright skin, beyond the photo's own shading there: a hair strand or blotch
  from the generator;
- **seam**: the colour just inside the region's edge jumps away from the photo's;
- **not a face**: the detector no longer finds a face where the original was.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceveil.models.mesh_topology import features_mask, inter_ocular

DARKER = 40.0  # Lab lightness (0-255) below the bright skin that counts as a dark patch
MAX_DARK = 0.03  # share of the skin that may be that dark
MAX_SEAM = 14.0  # mean Lab difference just inside the edge
MIN_SCORE = 0.6  # detector score the result must still reach
DETECT_SIDE = 192  # px: the crop is shrunk to this before the detector reads it


def skin_mask(mesh: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Where `region` (a (size, size) alpha) is solid, minus the facial features, dilated."""
    return (region > 0.9) & ~features_mask(mesh, region.shape, 0.12)


def _relative_lightness(rgb: np.ndarray, inner: np.ndarray, sigma: float) -> np.ndarray:
    """Lab lightness, smoothed, minus the bright skin level: the 90th percentile over the
    `inner` face (a patch may cover most of the cheeks, never most of the face)."""
    lightness = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0], (0, 0), sigma)
    return lightness.astype(np.float32) - float(np.percentile(lightness[inner], 90))


def dark_share(
    face: np.ndarray,
    photo: np.ndarray,
    skin: np.ndarray,
    iod: float,
    inner: np.ndarray | None = None,
) -> float:
    """Share of `skin` where `face` is more than DARKER below its bright skin level, beyond
    what the photo's own shading is there (a shadow in the photo is not a patch)."""
    if skin.sum() < 16:
        return 0.0
    sigma = max(0.5, 0.05 * iod)  # pores and grain are not patches
    inner = skin if inner is None else inner
    new = _relative_lightness(face, inner, sigma)
    old = _relative_lightness(photo, inner, sigma)
    return float(((new < np.minimum(old, 0) - DARKER) & skin).sum() / skin.sum())


def seam_step(result: np.ndarray, photo: np.ndarray, region: np.ndarray, iod: float) -> float:
    """Mean Lab difference between result and photo in the band just inside the edge."""
    band = (region > 0.15) & (region < 0.6)
    if band.sum() < 16:
        return 0.0
    sigma = max(0.5, 0.1 * iod)
    a, b = (
        cv2.GaussianBlur(cv2.cvtColor(x, cv2.COLOR_RGB2LAB).astype(np.float32), (0, 0), sigma)
        for x in (result, photo)
    )
    return float(np.linalg.norm((a - b)[band], axis=1).mean())


def still_a_face(result: np.ndarray, mesh: np.ndarray) -> bool:
    from faceveil.detect import detect

    centre = mesh[1]
    # A shrunk copy is enough to find a face that fills the crop (boxes come back in crop px).
    for face in detect(result, small_faces=False, max_side=DETECT_SIDE, recall="fast"):
        x, y, w, h = face.box
        if face.score >= MIN_SCORE and x <= centre[0] <= x + w and y <= centre[1] <= y + h:
            return True
    return False


def dark_patch(
    result: np.ndarray, photo: np.ndarray, new: np.ndarray, mesh: np.ndarray, region: np.ndarray
) -> float:
    """Share of the skin with a dark patch (arguments as for :func:`flaw`)."""
    iod = inter_ocular(mesh)
    skin, inner = skin_mask(mesh, region), region > 0.5
    # On both: a dark new face hides its strand from the first, relighting shows it again.
    return max(dark_share(x, photo, skin, iod, inner) for x in (new, result))


def flaw(
    result: np.ndarray, photo: np.ndarray, new: np.ndarray, mesh: np.ndarray, region: np.ndarray
) -> str | None:
    """Why a composited crop looks broken, or None when it does not.

    `result` and `photo` are the crop after and before, `new` the generated face warped onto
    the original's mesh (before it was relit: relighting flattens a dark strand into a band
    that still looks wrong, so a patch is looked for before and after), `mesh` (468, 2) the
    original's points, `region` the alpha."""
    share = dark_patch(result, photo, new, mesh, region)
    if share > MAX_DARK:
        return f"dark patch over {100 * share:.0f} % of the skin"
    step = seam_step(result, photo, region, inter_ocular(mesh))
    if step > MAX_SEAM:
        return f"visible seam (colour step {step:.0f})"
    if not still_a_face(result, mesh):
        return "the result no longer reads as a face"
    return None
