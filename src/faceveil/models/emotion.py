"""Facial expression: fer's FER2013 mini-Xception (quantised TFLite), run with ai-edge-litert.

fer crops its Haar-cascade box, squared and grown by 10 px a side, from the grayscale image
(padded with the mean of its bottom rows), resizes it bilinearly to 64x64 and scales it to
[-1, 1]. faceveil has YuNet's landmarks instead of a Haar box, so it rebuilds that square from
them (measured on the ORL faces and the astronaut: the Haar box is 2.28 x the mean of the
inter-ocular and eye-to-mouth distances, centred 0.26 x that below the eye midpoint), and
turns it upright along the eye line.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from faceveil.models.litert import LiteRTNet
from faceveil.models.weights import weight_path

# fer's class order (fer.FER._get_labels).
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
_HAAR_SIDE = 2.28  # Haar box side / mean(inter-ocular, eye-to-mouth distance)
_HAAR_DROP = 0.256  # Haar box centre below the eye midpoint, same unit
_MARGIN = 0.075  # fer's 10 px offsets, relative to a typical 130 px Haar box


def crop_transform(landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) map from image pixels to the 64x64 grayscale crop fer classifies."""
    lm = np.asarray(landmarks, np.float64)
    eyes = (lm[0] + lm[1]) / 2
    mouth = (lm[3] + lm[4]) / 2
    across = lm[1] - lm[0]
    iod = float(np.hypot(*across))
    unit = (iod + float(np.hypot(*(mouth - eyes)))) / 2
    if iod < 1e-6 or unit < 1e-6:
        raise ValueError("face landmarks are degenerate (eyes coincide)")
    u = across / iod  # along the eye line
    v = np.array([-u[1], u[0]])  # towards the mouth
    centre = eyes + _HAAR_DROP * unit * v
    side = _HAAR_SIDE * unit * (1 + 2 * _MARGIN)
    k = INPUT_SIZE / side
    lin = k * np.vstack([u, v])  # rows: crop x and y axes
    shift = INPUT_SIZE / 2 - 0.5 - lin @ centre  # crop pixel centres span the square
    return np.hstack([lin, shift[:, None]])


def emotion_crops(gray: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
    """(N, 64, 64) uint8 crops of a grayscale image, one per (5, 2) landmark set."""
    if not landmarks:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
    fill = float(gray[-2:].mean())  # fer pads with the mean of the bottom two rows
    return np.stack(
        [
            cv2.warpAffine(
                gray,
                crop_transform(lm),
                (INPUT_SIZE, INPUT_SIZE),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=fill,
            )
            for lm in landmarks
        ]
    )


class EmotionNet(LiteRTNet):
    """Callable wrapper: (N, 64, 64) uint8 grayscale crops in, (N, 7) probabilities out
    (columns in :data:`EMOTIONS` order)."""

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        if crops.ndim != 3 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"emotion crops must be (N, 64, 64), got {crops.shape}")
        if len(crops) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        x = (crops.astype(np.float32) / 255.0 - 0.5) * 2.0
        probs = self.run(x[..., None])[0]
        return probs / probs.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=1)
def get_emotion_net() -> EmotionNet:
    """The process-wide expression classifier, loaded on first use."""
    return EmotionNet(weight_path("emotion"))


def predict_emotions(rgb: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
    """(N, 7) expression probabilities for faces in an (H, W, 3) RGB uint8 image."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return get_emotion_net()(emotion_crops(gray, landmarks))
