"""All anonymisation options in one dataclass; the CLI and the API are built from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

BUDGETS = ("low", "mid", "high", "max")  # cloak's perceptual budgets
TARGETS = ("decoy", "away")  # cloak: toward a synthetic identity, or away from the own


@dataclass
class AnonymizeOptions:
    """Options shared by every method and input kind.

    method : registered method name (see ``faceveil.anonymize.METHODS``).
    shape : ``"ellipse"`` (follows the eye line) or ``"box"``.
    mask_scale : enlargement of the detector box; only pixels inside it can change.
    feather : width of the soft edge, as a fraction of the enlarged region.
    threshold : detector score threshold.
    max_side : longest side of the copy the detector's main pass sees; 0 for full size; None
        picks 1280 for images and 640 for video (faces from about 40 px in 720p), for speed.
    small_faces : also scan at 2x in tiles for faces of 10-20 px; None: on for images, off for
        video.
    blur_strength : multiplies the blur sigma, which is max(face w, h) / 8 at 1.0.
    pixel_blocks : mosaic blocks across the face width.
    color : RGB fill for ``solid``, 0-255.
    replace_image : image pasted by ``image`` (path or array); a built-in emoji when None.
    keep_metadata : copy EXIF/ICC (images) and container metadata (video) to the output.
    seed : seeds the synthetic identities of ``synth``: the same seed, the same output.
    edit : attribute edits of ``attributes``, e.g. ``"age=+2,gender=flip,smile=-1"``; None
        for the method's default.
    k : ``ksame``: each face becomes the average of its k nearest gallery identities.
    gallery : ``ksame``: a folder of face photos to average instead of the built-in synthetic
        gallery.
    budget : ``cloak``: perceptual budget, ``low | mid | high | max`` (DSSIM over the face region
        0.003 / 0.005 / 0.008 / 0.025, with an L-infinity cap of 4 / 8 / 12 / 24 of 255).
    target : ``cloak``: ``decoy`` (toward a synthetic identity) or ``away`` (from the own).
    """

    method: str = "blur"
    shape: str = "ellipse"
    mask_scale: float = 1.3
    feather: float = 0.1
    threshold: float = 0.6
    max_side: int | None = None
    small_faces: bool | None = None
    blur_strength: float = 1.0
    pixel_blocks: int = 8
    color: tuple[int, int, int] = (0, 0, 0)
    replace_image: str | Path | np.ndarray | None = None
    keep_metadata: bool = False
    seed: int = 0
    edit: str | None = None
    k: int = 5
    gallery: str | Path | None = None
    budget: str = "mid"
    target: str = "decoy"

    def __post_init__(self) -> None:
        from faceveil.anonymize.regions import SHAPES
        from faceveil.anonymize.registry import METHODS

        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        if not 0.5 <= self.mask_scale <= 4:
            raise ValueError(f"mask_scale must be between 0.5 and 4, got {self.mask_scale}")
        if not 0 <= self.feather <= 0.5:
            raise ValueError(f"feather must be between 0 and 0.5, got {self.feather}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.max_side is not None and self.max_side != 0 and self.max_side < 32:
            raise ValueError(f"max_side must be 0 (full size) or at least 32, got {self.max_side}")
        if self.blur_strength <= 0:
            raise ValueError(f"blur_strength must be positive, got {self.blur_strength}")
        if self.pixel_blocks < 2:
            raise ValueError(f"pixel_blocks must be at least 2, got {self.pixel_blocks}")
        if len(self.color) != 3 or not all(0 <= int(c) <= 255 for c in self.color):
            raise ValueError(f"color must be three values in 0..255, got {self.color}")
        if self.edit is not None or self.method == "attributes":
            from faceveil.anonymize.attributes import parse_edit

            parse_edit(self.edit)  # bad syntax fails here, before any file is read
        if not 2 <= self.k <= 100:
            raise ValueError(f"k must be between 2 and 100, got {self.k}")
        if self.budget not in BUDGETS:
            raise ValueError(f"budget must be one of {', '.join(BUDGETS)}, got {self.budget!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")

    def detect_kwargs(self, kind: str) -> dict:
        """Keyword arguments of :func:`faceveil.detect` for an ``image`` or a ``video`` frame."""
        video = kind == "video"
        max_side = self.max_side if self.max_side is not None else (640 if video else 1280)
        small = self.small_faces if self.small_faces is not None else not video
        return {"threshold": self.threshold, "max_side": max_side or None, "small_faces": small}

    @classmethod
    def from_kwargs(cls, **kwargs) -> AnonymizeOptions:
        known = {f.name for f in fields(cls)}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return cls(**kwargs)

    def summary(self) -> dict:
        """JSON-friendly view for reports."""
        d = asdict(self)
        ri = d.pop("replace_image")
        d["replace_image"] = str(ri) if isinstance(ri, str | Path) else None
        d["color"] = list(self.color)
        d["gallery"] = None if self.gallery is None else str(self.gallery)
        return d
