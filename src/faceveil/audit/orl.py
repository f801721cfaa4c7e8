"""The ORL dataset protocol: anonymise every image and try to re-identify it.

Each of the 400 ORL images (upscaled, 2x by default) is anonymised; the anonymised face, aligned
on the *original* landmarks as an attacker who knows where the face was would do, is matched by
SFace against the other nine original images of the same person. Reported: the
re-identification rate over those pairs, the share of images where any of the nine matched, the
share of faces still detectable, attribute agreement, and time per face. With "dlib" among the
recognizers, the same is measured with dlib's ResNet descriptor (distance below 0.6), which
nothing in faceveil optimises against.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, embed_faces
from faceveil.audit.metrics import audit_pair, check_recognizers
from faceveil.detect import detect
from faceveil.faces import Face
from faceveil.io.orl import load_orl

# (image, faces) -> anonymised image
Anonymizer = Callable[[np.ndarray, list[Face]], np.ndarray]


def method_anonymizer(method: str, **options) -> Anonymizer:
    """An anonymizer that applies a registered method to the given faces."""
    from faceveil.anonymize import anonymize

    return lambda image, faces: anonymize(image, method, faces=faces, **options).image


def orl_protocol(
    anonymizer: Anonymizer,
    *,
    people: int = 40,
    upscale: float = 2.0,
    threshold: float = SFACE_THRESHOLD,
    attributes: bool = True,
    recognizers: tuple[str, ...] = ("sface",),
    dlib_threshold: float | None = None,
) -> dict:
    """Run the protocol over the first `people` ORL subjects; returns a dict of rates.
    `dlib_threshold`: the distance below which dlib matches a pair (default its usual 0.6,
    whose false-accept rate on ORL 2x is 2.2 %; 0.55 gives 0.46 %)."""
    recognizers = check_recognizers(recognizers)
    use_dlib = "dlib" in recognizers
    if use_dlib:
        from faceveil.models.dlib_face import DLIB_THRESHOLD, embed_faces_dlib

        dlib_threshold = DLIB_THRESHOLD if dlib_threshold is None else dlib_threshold
    images = [(p, img) for p, img in load_orl(upscale) if p <= people]
    largest = []
    for _, img in images:
        faces = detect(img, small_faces=False, recall="fast")
        largest.append(max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None)
    originals = np.zeros((len(images), 128), np.float32)
    for i, ((_, img), face) in enumerate(zip(images, largest, strict=True)):
        if face is not None:
            originals[i] = embed_faces(img, [face])[0]
    if use_dlib:
        dlib_originals = np.zeros((len(images), 128), np.float32)
        for i, ((_, img), face) in enumerate(zip(images, largest, strict=True)):
            if face is not None:
                dlib_originals[i] = embed_faces_dlib(img, [face])[0]
    by_person = defaultdict(list)
    for i, (p, _) in enumerate(images):
        if largest[i] is not None:
            by_person[p].append(i)

    pair_hits = pair_total = any_hits = detected = 0
    dlib_hits = dlib_any = dlib_face_hits = 0
    ages, genders, emotions, expressions, seconds, drifts = [], [], [], [], [], []
    for i, ((person, img), face) in enumerate(zip(images, largest, strict=True)):
        if face is None:
            continue
        start = time.perf_counter()
        anon = anonymizer(img, [face])
        seconds.append(time.perf_counter() - start)
        item = audit_pair(
            img,
            anon,
            faces=[face],
            threshold=threshold,
            attributes=attributes,
            detect_kwargs={"small_faces": False},
            recognizers=recognizers,
        )
        fa = item.faces[0]
        detected += fa.still_detectable
        if fa.landmark_drift is not None:
            drifts.append(fa.landmark_drift)
        if fa.age_difference is not None:  # set, with the two below, when attributes is on
            ages.append(fa.age_difference)
        if fa.same_gender is not None:
            genders.append(fa.same_gender)
        if fa.same_emotion is not None:
            emotions.append(fa.same_emotion)
        if fa.expression_difference is not None:
            expressions.append(fa.expression_difference)
        probe = embed_faces(anon, [face])[0]
        others = [j for j in by_person[person] if j != i]
        sims = originals[others] @ probe
        pair_hits += int((sims >= threshold).sum())
        pair_total += len(others)
        any_hits += bool((sims >= threshold).any())
        if use_dlib:
            probe_d = embed_faces_dlib(anon, [face])[0]
            dists = np.linalg.norm(dlib_originals[others] - probe_d, axis=1)
            dlib_hits += int((dists < dlib_threshold).sum())
            dlib_any += bool((dists < dlib_threshold).any())
            dlib_face_hits += bool(fa.dlib_re_identified)
    n = len(seconds)
    result = {
        "images": n,
        "faces_not_detected_in_original": len(images) - n,
        "re_identification_rate": pair_hits / max(pair_total, 1),
        "re_identified_any_rate": any_hits / max(n, 1),
        "detection_kept_rate": detected / max(n, 1),
        "median_landmark_drift": float(np.median(drifts)) if drifts else None,
        "mean_age_difference": float(np.mean(ages)) if ages else None,
        "same_gender_rate": float(np.mean(genders)) if genders else None,
        "same_emotion_rate": float(np.mean(emotions)) if emotions else None,
        "median_expression_difference": float(np.median(expressions)) if expressions else None,
        "ms_per_face": 1000 * float(np.mean(seconds)) if seconds else None,
        "threshold": threshold,
    }
    if use_dlib:  # keys only when asked: the SFace-only result is unchanged
        result |= {
            "re_identification_rate_dlib": dlib_hits / max(pair_total, 1),
            "re_identified_any_rate_dlib": dlib_any / max(n, 1),
            "same_image_re_identified_rate_dlib": dlib_face_hits / max(n, 1),
            "threshold_dlib": dlib_threshold,
        }
    return result
