"""Audit pairs of images, folders (matched by relative path) or videos (sampled frames)."""

from __future__ import annotations

import base64
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.audit.metrics import ImageAudit, audit_pair, check_recognizers
from faceveil.errors import FaceveilError, InputError
from faceveil.io.images import IMAGE_EXTENSIONS, load_image, to_rgb8
from faceveil.io.video import VIDEO_EXTENSIONS, probe_video, read_frames

log = logging.getLogger(__name__)
THUMB_SIDE = 320


def _reid_similarity(face) -> float:
    detected = face.identity_similarity_detected
    return max(face.identity_similarity, detected if detected is not None else -1.0)


def _reid_dlib_distance(face) -> float:
    detected = face.dlib_distance_detected
    return min(face.dlib_distance, detected if detected is not None else math.inf)


@dataclass
class AuditReport:
    """All audited pairs, the inputs that could not be audited, and a summary."""

    items: list[ImageAudit] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    threshold: float = SFACE_THRESHOLD
    previews: list[tuple[str, str]] = field(default_factory=list)  # base64 JPEGs, for HTML
    recognizers: tuple[str, ...] = ("sface",)

    def summary(self) -> dict:
        faces = [f for item in self.items for f in item.faces]

        def mean(values):
            values = [v for v in values if v is not None]
            return round(float(np.mean(values)), 4) if values else None

        def rate(values):
            values = [bool(v) for v in values if v is not None]
            return round(sum(values) / len(values), 4) if values else None

        finite = [i.psnr_outside for i in self.items if not math.isinf(i.psnr_outside)]
        return {
            "images": len(self.items),
            "failed": len(self.failures),
            "faces": len(faces),
            "threshold": self.threshold,
            "re_identified_rate": rate(f.re_identified for f in faces),
            "still_detectable_rate": rate(f.still_detectable for f in faces),
            "mean_identity_similarity": mean(f.identity_similarity for f in faces),
            "max_identity_similarity": round(max(f.identity_similarity for f in faces), 4)
            if faces
            else None,
            # what re_identified compares with the threshold: the original's and the re-detected
            # face's alignment, whichever matches better
            "max_reid_similarity": round(max(_reid_similarity(f) for f in faces), 4)
            if faces
            else None,
            "mean_landmark_drift": mean(f.landmark_drift for f in faces),
            "mean_age_difference": mean(f.age_difference for f in faces),
            "same_gender_rate": rate(f.same_gender for f in faces),
            "same_emotion_rate": rate(f.same_emotion for f in faces),
            "mean_expression_difference": mean(f.expression_difference for f in faces),
            "mean_ssim_outside": mean(i.ssim_outside for i in self.items),
            "min_psnr_outside": round(min(finite), 3) if finite else None,
            "backgrounds_identical": sum(math.isinf(i.psnr_outside) for i in self.items),
        } | (self._dlib_summary(faces, mean, rate) if "dlib" in self.recognizers else {})

    @staticmethod
    def _dlib_summary(faces, mean, rate) -> dict:
        from faceveil.models.dlib_face import DLIB_THRESHOLD

        return {
            "dlib_threshold": DLIB_THRESHOLD,
            "dlib_re_identified_rate": rate(f.dlib_re_identified for f in faces),
            "mean_dlib_distance": mean(f.dlib_distance for f in faces),
            "min_dlib_distance": round(min(f.dlib_distance for f in faces), 4) if faces else None,
            # what dlib_re_identified compares: the better of the two alignments
            "min_reid_dlib_distance": round(min(_reid_dlib_distance(f) for f in faces), 4)
            if faces
            else None,
        }

    def to_dict(self) -> dict:
        return {
            "summary": self.summary(),
            "items": [i.to_dict() for i in self.items],
            "failures": self.failures,
        }


def _thumbnail(rgb: np.ndarray, faces) -> str:
    img = cv2.cvtColor(to_rgb8(rgb), cv2.COLOR_RGB2BGR)
    scale = THUMB_SIDE / max(img.shape[:2])
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for f in faces:
        x, y, w, h = (round(v * scale) for v in f.box)
        cv2.rectangle(img, (x, y), (x + w, y + h), (0, 200, 255), 1)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _kind(path: Path) -> str:
    if path.is_dir():
        return "folder"
    ext = path.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    raise InputError(f"{path}: not an image, video or folder")


def _sampled_frames(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    _, frames = read_frames(path)
    return {i: f.copy() for i, f in enumerate(frames) if i in indices}


def audit(
    original: str | Path,
    anonymized: str | Path,
    *,
    threshold: float = SFACE_THRESHOLD,
    attributes: bool = True,
    frames: int = 10,
    previews: bool = False,
    progress: bool = False,
    recognizers: tuple[str, ...] = ("sface",),
) -> AuditReport:
    """Audit what an anonymised image, folder or video still gives away.

    Parameters
    ----------
    original, anonymized : two images, two folders (files matched by relative path) or two
        videos (`frames` frames sampled evenly, at the same indices in both).
    threshold : SFace cosine at or above which a face counts as re-identified.
    attributes : compare age, gender and emotion of each face before and after.
    previews : keep small thumbnails of each pair for the HTML report.
    recognizers : "sface" and optionally "dlib", an independent recognizer (Euclidean distance
        below 0.6 = re-identified) reported beside SFace.

    Returns
    -------
    AuditReport; pairs that cannot be audited are listed in ``failures``, not raised.
    """
    recognizers = check_recognizers(recognizers)
    original, anonymized = Path(original), Path(anonymized)
    for p in (original, anonymized):
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
    kind = _kind(original)
    if _kind(anonymized) != kind:
        raise InputError(
            f"cannot audit a {kind} against a {_kind(anonymized)}: "
            f"give two images, two folders or two videos"
        )
    report = AuditReport(threshold=threshold, recognizers=recognizers)
    pairs = _pairs(original, anonymized, kind, frames, report)
    for orig_name, anon_name, load in tqdm(pairs, disable=not progress, unit="pair"):
        try:
            a, b = load()
            item = audit_pair(
                a,
                b,
                threshold=threshold,
                attributes=attributes,
                names=(orig_name, anon_name),
                recognizers=recognizers,
            )
        except (FaceveilError, OSError, ValueError) as exc:
            report.failures.append(str(exc).splitlines()[0])
            continue
        report.items.append(item)
        if previews:
            faces = [f.face for f in item.faces]
            report.previews.append((_thumbnail(a, faces), _thumbnail(b, faces)))
    return report


def _pairs(original: Path, anonymized: Path, kind: str, frames: int, report: AuditReport):
    if kind == "image":
        return [
            (
                str(original),
                str(anonymized),
                lambda: (load_image(original).pixels, load_image(anonymized).pixels),
            )
        ]
    if kind == "folder":
        pairs = []
        for src in sorted(original.rglob("*")):
            if not src.is_file() or src.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            rel = src.relative_to(original)
            dst = anonymized / rel
            if not dst.is_file():
                report.failures.append(f"{dst}: no counterpart of {src} in {anonymized}")
                continue
            pairs.append(
                (
                    str(src),
                    str(dst),
                    lambda s=src, d=dst: (load_image(s).pixels, load_image(d).pixels),
                )
            )
        if not pairs and not report.failures:
            raise InputError(f"{original}: no images to audit")
        return pairs
    return _video_pairs(original, anonymized, frames, report)


def _video_pairs(original: Path, anonymized: Path, frames: int, report: AuditReport):
    total = probe_video(original).frames_estimate
    indices = sorted({round(i) for i in np.linspace(0, max(total - 1, 0), max(1, frames))})
    wanted = set(indices)
    a_frames, b_frames = _sampled_frames(original, wanted), _sampled_frames(anonymized, wanted)
    pairs = []
    for i in indices:
        if i not in a_frames or i not in b_frames:
            report.failures.append(f"{anonymized}: frame {i} missing in one of the videos")
            continue
        pairs.append(
            (
                f"{original}#frame={i}",
                f"{anonymized}#frame={i}",
                lambda i=i: (a_frames[i], b_frames[i]),
            )
        )
    return pairs
