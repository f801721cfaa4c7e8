"""Before/after strips of ``--method synth`` for the README (docs/synth_*.jpg).

    .venv/bin/python scripts/make_synth_examples.py

Inputs: the scikit-image astronaut (public domain) and a generated multi-face scene
(``faceveil.testing.make_scene``: ORL, astronaut and DCGAN faces). No photos of real people
are added.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data

import faceveil
from faceveil.testing import make_scene

DOCS = Path(__file__).resolve().parent.parent / "docs"


def strip(image: np.ndarray, crop: tuple[slice, slice], name: str) -> None:
    out, report = faceveil.anonymize(image, "synth", seed=0)
    pair = np.concatenate([image[crop], out[crop]], axis=1)
    faceveil.write_image(DOCS / name, pair)
    print(f"{name}: {report.face_count} faces, notes: {report.warnings or 'none'}")


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    strip(skimage.data.astronaut(), (slice(0, 300), slice(60, 420)), "synth_astronaut.jpg")
    scene, _ = make_scene(7, size=(960, 540), n_faces=5, face_sizes=(70, 150))
    strip(scene, (slice(None), slice(None)), "synth_scene.jpg")


if __name__ == "__main__":
    main()
