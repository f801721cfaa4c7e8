"""Privacy and utility metrics for one (original, anonymised) image pair.

Per face found in the original: identity similarity (the attacker aligns the anonymised face on
the *original* landmarks, and also on whatever the detector finds there), re-identification at
the calibrated threshold, whether the face is still detectable, landmark drift, and attribute
agreement. Per image: SSIM and PSNR outside the enlarged face regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.faces import Face, best_overlap
from faceveil.io.images import to_rgb8

# Recognizers the audit can attack with; "dlib" is independent of SFace (which cloaking and the
# identity checks optimise against) and loads only when asked.
RECOGNIZERS = ("sface", "dlib")
MATCH_IOU = 0.3  # a detection in the anonymised image "is" the original face above this IoU
SSIM_WINDOW = 7


@dataclass
class FaceAudit:
    """What an anonymised image still gives away about one original face."""

    face: Face
    identity_similarity: float  # aligned on the original landmarks
    identity_similarity_detected: float | None  # aligned on the landmarks found there, if any
    re_identified: bool
    still_detectable: bool
    detection_score: float | None
    landmark_drift: float | None  # mean landmark shift / inter-ocular distance
    age_difference: float | None = None
    same_gender: bool | None = None
    same_emotion: bool | None = None
    expression_difference: float | None = None  # by the mesh, which no method ranks with
    dlib_distance: float | None = None  # Euclidean, aligned by dlib on the original box
    dlib_distance_detected: float | None = None  # on the box detected there, if any
    dlib_re_identified: bool | None = None  # None when dlib was not asked for

    def to_dict(self) -> dict:
        def r(v, n=4):
            return None if v is None else round(float(v), n)

        out = {
            "box": [round(float(v), 1) for v in self.face.box],
            "identity_similarity": r(self.identity_similarity),
            "identity_similarity_detected": r(self.identity_similarity_detected),
            "re_identified": bool(self.re_identified),
            "still_detectable": bool(self.still_detectable),
            "detection_score": r(self.detection_score),
            "landmark_drift": r(self.landmark_drift),
            "age_difference": r(self.age_difference, 1),
            "same_gender": self.same_gender,
            "same_emotion": self.same_emotion,
            "expression_difference": r(self.expression_difference),
        }
        if self.dlib_re_identified is not None:  # keys only when dlib ran: outputs unchanged
            out["dlib_distance"] = r(self.dlib_distance)
            out["dlib_distance_detected"] = r(self.dlib_distance_detected)
            out["dlib_re_identified"] = bool(self.dlib_re_identified)
        return out


@dataclass
class ImageAudit:
    """The audit of one image pair."""

    original: str
    anonymized: str
    faces: list[FaceAudit] = field(default_factory=list)
    ssim_outside: float = 1.0
    psnr_outside: float = math.inf  # inf when the background is byte-identical
    outside_fraction: float = 1.0  # share of the image outside the face regions
    threshold: float = SFACE_THRESHOLD

    def to_dict(self) -> dict:
        return {
            "original": self.original,
            "anonymized": self.anonymized,
            "threshold": self.threshold,
            "ssim_outside": round(self.ssim_outside, 6),
            "psnr_outside": None if math.isinf(self.psnr_outside) else round(self.psnr_outside, 3),
            "background_identical": math.isinf(self.psnr_outside),
            "outside_fraction": round(self.outside_fraction, 4),
            "faces": [f.to_dict() for f in self.faces],
        }


def check_recognizers(names) -> tuple[str, ...]:
    """The recognizer names, validated (InputError naming the known ones otherwise)."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in names if n not in RECOGNIZERS]
    if unknown or not names:
        raise InputError(
            f"unknown recognizer {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"known: {', '.join(RECOGNIZERS)}"
        )
    return names


def _drift(original: Face, found: Face) -> float:
    iod = float(np.linalg.norm(original.landmarks[0] - original.landmarks[1]))
    shift = np.linalg.norm(original.landmarks - found.landmarks, axis=1).mean()
    return float(shift / max(iod, 1e-6))


def outside_mask(shape: tuple[int, ...], faces: list[Face], mask_scale: float) -> np.ndarray:
    """True outside every enlarged face box, shrunk by the SSIM window so that no window
    reaching into a face region is counted."""
    h, w = shape[:2]
    mask = np.ones((h, w), bool)
    pad = SSIM_WINDOW // 2 + 1
    for f in faces:
        x, y, bw, bh = f.box
        cx, cy = x + bw / 2, y + bh / 2
        # The ellipse of a rolled face can reach past the scaled box; take its diagonal.
        half = max(bw, bh) * mask_scale / 2 * math.sqrt(2) + pad
        mask[
            max(0, int(cy - half)) : int(cy + half) + 1, max(0, int(cx - half)) : int(cx + half) + 1
        ] = False
    return mask


def background_fidelity(
    original: np.ndarray, anonymized: np.ndarray, faces: list[Face], mask_scale: float = 1.3
) -> tuple[float, float, float]:
    """(SSIM, PSNR in dB, outside fraction) over the pixels outside the enlarged face regions.

    PSNR is inf when those pixels are byte-identical; SSIM is 1 then.
    """
    a, b = to_rgb8(original), to_rgb8(anonymized)
    mask = outside_mask(a.shape, faces, mask_scale)
    if not mask.any():
        return 1.0, math.inf, 0.0
    diff = a[mask].astype(np.float64) - b[mask].astype(np.float64)
    mse = float(np.mean(diff**2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    if mse == 0:
        return 1.0, psnr, float(mask.mean())
    from skimage.metrics import structural_similarity  # scipy.ndimage: 0.3 s of every start-up

    _, ssim_map = structural_similarity(
        a, b, channel_axis=2, data_range=255, full=True, win_size=SSIM_WINDOW
    )
    ssim = float(ssim_map.mean(axis=2)[mask].mean())
    return ssim, psnr, float(mask.mean())


def audit_pair(
    original: np.ndarray,
    anonymized: np.ndarray,
    *,
    faces: list[Face] | None = None,
    threshold: float = SFACE_THRESHOLD,
    attributes: bool = True,
    mask_scale: float = 1.3,
    detect_kwargs: dict | None = None,
    names: tuple[str, str] = ("<original>", "<anonymized>"),
    recognizers: tuple[str, ...] = ("sface",),
) -> ImageAudit:
    """Audit one image pair (arrays of the same size).

    Parameters
    ----------
    faces : the faces of the original; detected when None.
    threshold : SFace cosine at or above which a face counts as re-identified.
    attributes : also compare age, gender and emotion (slower).
    mask_scale : enlargement of the face boxes excluded from the background metrics.
    recognizers : "sface" (always measured) and optionally "dlib", whose distance (below
        `DLIB_THRESHOLD` = re-identified) is added to each face.
    """
    recognizers = check_recognizers(recognizers)
    if original.shape[:2] != anonymized.shape[:2]:
        raise InputError(
            f"{names[1]}: size {anonymized.shape[1]}x{anonymized.shape[0]} differs from the "
            f"original's {original.shape[1]}x{original.shape[0]}"
        )
    kwargs = detect_kwargs or {}
    faces = detect(original, **kwargs) if faces is None else faces
    # "Still a face" is asked of YuNet alone: CenterFace also finds the head around a solid fill
    found = detect(anonymized, **{**kwargs, "recall": "fast"}) if faces else []
    sims = embed_faces(anonymized, faces)
    refs = embed_faces(original, faces)
    matches = [best_overlap(f, found, MATCH_IOU) for f in faces]
    detected = [m for m in matches if m is not None]
    det_sims = iter(embed_faces(anonymized, detected))
    audits = []
    for face, ref, sim_vec, match in zip(faces, refs, sims, matches, strict=True):
        sim = cosine(ref, sim_vec)
        det_sim = cosine(ref, next(det_sims)) if match is not None else None
        audits.append(
            FaceAudit(
                face=face,
                identity_similarity=sim,
                identity_similarity_detected=det_sim,
                re_identified=max(sim, det_sim if det_sim is not None else -1.0) >= threshold,
                still_detectable=match is not None,
                detection_score=match.score if match is not None else None,
                landmark_drift=_drift(face, match) if match is not None else None,
            )
        )
    if "dlib" in recognizers and faces:
        _compare_dlib(original, anonymized, audits, matches)
    if attributes and faces:
        _compare_attributes(original, anonymized, audits)
    ssim, psnr, frac = background_fidelity(original, anonymized, faces, mask_scale)
    return ImageAudit(names[0], names[1], audits, ssim, psnr, frac, threshold)


def _compare_dlib(original, anonymized, audits: list[FaceAudit], matches: list[Face | None]):
    from faceveil.models.dlib_face import DLIB_THRESHOLD, embed_faces_dlib  # dlib: load on use

    faces = [a.face for a in audits]
    refs = embed_faces_dlib(original, faces)
    probes = embed_faces_dlib(anonymized, faces)
    detected = iter(embed_faces_dlib(anonymized, [m for m in matches if m is not None]))
    for audit, ref, probe, match in zip(audits, refs, probes, matches, strict=True):
        audit.dlib_distance = float(np.linalg.norm(ref - probe))
        if match is not None:
            audit.dlib_distance_detected = float(np.linalg.norm(ref - next(detected)))
        det = audit.dlib_distance_detected
        best = audit.dlib_distance if det is None else min(audit.dlib_distance, det)
        audit.dlib_re_identified = best < DLIB_THRESHOLD


def _compare_attributes(original: np.ndarray, anonymized: np.ndarray, audits: list[FaceAudit]):
    from faceveil.analysis.attributes import analyze_faces  # onnxruntime/litert: load on use
    from faceveil.analysis.expression import expression_difference

    faces = [a.face for a in audits]
    before = analyze_faces(original, faces, mesh=True, align="landmarks")
    after = analyze_faces(anonymized, faces, mesh=True, align="landmarks")
    for audit, a, b in zip(audits, before, after, strict=True):
        audit.age_difference = abs(a.age - b.age)
        audit.same_gender = a.gender == b.gender
        audit.same_emotion = a.emotion == b.emotion
        audit.expression_difference = expression_difference(a.landmarks, b.landmarks)
