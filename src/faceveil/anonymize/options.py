"""Every anonymisation option, declared once.

Each field of :class:`AnonymizeOptions` carries an :class:`Option`: its help, bounds, choices,
command-line flag and the surfaces that may set it. The CLI's ``anonymize`` and ``batch``
flags, the REST API's request model, the job option keys and the studio's form are all derived
from these declarations (see :func:`fields_for`), so a new option is one field here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from faceveil.anonymize.regions import SHAPES
from faceveil.detect import RECALL
from faceveil.errors import InputError

BUDGETS = ("low", "mid", "high", "max")  # cloak's perceptual budgets
TARGETS = ("decoy", "away")  # cloak: toward a synthetic identity, or away from the own

# Where an option can be set. Paths name files on the machine that runs faceveil, so only
# the command line (cli, batch) takes them; the server's surfaces never do.
# ``detect`` is the detection options alone, which ``faceveil detect`` and the API's detect
# endpoint offer.
SURFACES = ("cli", "batch", "api", "job", "form", "detect")
EVERYWHERE = frozenset(SURFACES) - {"detect"}
LOCAL = frozenset({"cli", "batch"})
NOT_FORM = EVERYWHERE - {"form"}
DETECTING = EVERYWHERE | {"detect"}


@dataclass(frozen=True)
class Option:
    """The declaration of one option: everything a surface needs to offer it."""

    help: str
    surfaces: frozenset[str] = EVERYWHERE
    label: str = ""  # the studio form's label; the field name when empty
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    choice_labels: tuple[str, ...] = ()  # the form's words for each choice, in order
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    step: float | None = None  # the form's step for numbers
    flags: tuple[str, ...] = ()  # command-line flags; --field-name when empty
    methods: tuple[str, ...] = ()  # the methods it applies to (the form shows it for these)
    path: str | None = None  # "file" or "folder": a local path, which the command line checks

    def choice_list(self) -> tuple[str, ...] | None:
        return self.choices() if callable(self.choices) else self.choices


def option(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field with its :class:`Option` declaration."""
    return field(default=default, metadata={"option": Option(help, **spec)})


def _method_names() -> tuple[str, ...]:
    from faceveil.anonymize.registry import METHODS

    return tuple(METHODS)


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_color(value: str | tuple | list) -> tuple[int, int, int]:
    """``"R,G,B"``, ``"#RRGGBB"`` or three numbers, as an (R, G, B) tuple of 0..255.

    >>> parse_color("#ff8000"), parse_color("0, 128, 255")
    ((255, 128, 0), (0, 128, 255))
    """
    if isinstance(value, str):
        text = value.strip()
        hex_match = _HEX.match(text)
        try:
            if hex_match:
                parts = [int(hex_match.group(1)[i : i + 2], 16) for i in (0, 2, 4)]
            else:
                parts = [int(p) for p in text.split(",")]
        except ValueError:
            raise ValueError(f"color must be R,G,B (0-255) or #RRGGBB, got {value!r}") from None
    else:
        parts = [int(c) for c in value]
    if len(parts) != 3 or not all(0 <= c <= 255 for c in parts):
        raise ValueError(f"color must be three values in 0..255, got {value!r}")
    return (parts[0], parts[1], parts[2])


@dataclass
class AnonymizeOptions:
    """Options shared by every method and input kind; see each field's ``Option`` for its
    meaning (``faceveil anonymize --help`` prints them)."""

    method: str = option(
        "blur", "Anonymisation method.", choices=_method_names, flags=("--method", "-m")
    )
    shape: str = option(
        "ellipse", "Region shape: an ellipse follows the eye line.", choices=SHAPES, label="Shape"
    )
    mask_scale: float = option(
        1.3, "Enlargement of the detector box; only pixels inside it change.", ge=0.5, le=4,
        step=0.05, label="Mask scale",
    )  # fmt: skip
    feather: float = option(
        0.1, "Width of the soft edge, as a fraction of the enlarged region.", ge=0, le=0.5,
        surfaces=NOT_FORM,
    )  # fmt: skip
    threshold: float = option(
        0.6, "Detector score threshold.", gt=0, le=1, step=0.05, flags=("--thresh",),
        label="Detection threshold", surfaces=DETECTING,
    )  # fmt: skip
    recall: str = option(
        "balanced", "How hard detection looks: balanced adds a second detector (CenterFace) "
        "and keeps low YuNet scores it confirms; fast is YuNet alone, which missed 1.9 % of "
        "the faces of hard footage where balanced missed 0.3 %, for about 0.05 s less per 720p "
        "photo (docs/benchmarks.md).", choices=tuple(RECALL),
        label="Detection recall", surfaces=DETECTING,
    )  # fmt: skip
    boxes: str | Path | None = option(
        None, "A box file (faceveil detect --json, edited or from another tool): anonymise "
        "exactly its faces, without detection; video boxes interpolate between keyframes.",
        surfaces=frozenset({"cli"}), path="file",
    )  # fmt: skip
    keep_gallery: str | Path | None = option(
        None, "A gallery (faceveil gallery add) of consenting people: those named in "
        "--keep-names stay visible when SFace matches them clearly; everyone else is "
        "anonymised.", surfaces=LOCAL, path="file",
    )  # fmt: skip
    keep_names: str | None = option(
        None, "Comma-separated names in --keep-gallery to leave visible.", surfaces=LOCAL,
    )  # fmt: skip
    max_side: int | None = option(
        None, "Longest side the detector's main pass sees (0: full resolution). "
        "Default: 1280 for images, 640 for video.", ge=0, le=8192,
        surfaces=NOT_FORM | {"detect"},
    )  # fmt: skip
    small_faces: bool | None = option(
        None, "Also search for 10-20 px faces with a tiled 2x pass. "
        "Default: on for images, off for video.", surfaces=NOT_FORM | {"detect"},
        flags=("--small-faces/--no-small-faces",),
    )  # fmt: skip
    blur_strength: float = option(
        1.0, "Multiplies the blur sigma, max(face w, h) / 8 at 1.0.", gt=0, le=20, step=0.1,
        methods=("blur", "image"), label="Blur strength",
    )  # fmt: skip
    pixel_blocks: int = option(
        8, "Mosaic blocks across a face.", ge=2, le=256, methods=("pixelate",),
        label="Pixel blocks",
    )  # fmt: skip
    color: tuple[int, int, int] = option(
        (0, 0, 0), "Fill colour of solid: R,G,B or #RRGGBB.", methods=("solid",),
        label="Fill colour",
    )  # fmt: skip
    replace_image: str | Path | np.ndarray | None = option(
        None, "Image pasted by the image method (default: a built-in emoji).", surfaces=LOCAL,
        path="file",
    )  # fmt: skip
    keep_metadata: bool = option(
        False, "Keep EXIF/GPS and other metadata (stripped by default).",
        surfaces=frozenset({"cli", "batch", "job"}), flags=("--keep-metadata",),
    )  # fmt: skip
    keep_audio: bool = option(
        True, "Keep a video's audio track (off: removed; voices identify people too).",
        flags=("--keep-audio/--drop-audio",), label="Keep the audio (video)",
    )  # fmt: skip
    keep_subtitles: bool = option(
        False, "Keep a video's text subtitles (dropped by default: names and places are in them "
        "too).", flags=("--keep-subtitles/--drop-subtitles",), label="Keep subtitles (video)",
    )  # fmt: skip
    seed: int = option(
        0, "Seeds the synthetic identities: the same seed, the same output.", ge=0,
        le=2**31 - 1, methods=("synth", "ksame", "attributes", "cloak"), label="Seed",
    )  # fmt: skip
    edit: str | None = option(
        None, "Attribute edits of the attributes method, e.g. age=+2,gender=flip,smile=-1.",
        methods=("attributes",), label="Attribute edits",
    )  # fmt: skip
    k: int = option(
        5, "ksame: each face becomes the average of its k nearest gallery identities.", ge=2,
        le=100, flags=("--k",), methods=("ksame",), label="k (identities averaged)",
    )  # fmt: skip
    gallery: str | Path | None = option(
        None, "ksame: a folder of face photos to average (default: a synthetic gallery).",
        surfaces=LOCAL, path="folder",
    )  # fmt: skip
    budget: str = option(
        "mid", "cloak: perceptual budget; DSSIM over the face 0.003 / 0.005 / 0.008 / 0.025 "
        "with an L-infinity cap of 4 / 8 / 12 / 24 of 255.", choices=BUDGETS,
        choice_labels=("low (DSSIM 0.003)", "mid (DSSIM 0.005)", "high (DSSIM 0.008)",
                       "max (DSSIM 0.025, visible grain)"),
        methods=("cloak",), label="Budget (how visible the cloak may be)",
    )  # fmt: skip
    target: str = option(
        "decoy", "cloak: decoy (toward a synthetic identity) or away (from the own).",
        choices=TARGETS, methods=("cloak",), label="Target",
        choice_labels=("decoy (toward a synthetic face)", "away (from the own face)"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        for f, spec in declared():
            _check_field(f.name, getattr(self, f.name), spec)
        self.color = parse_color(self.color)
        if self.edit is not None and not isinstance(self.edit, str):
            raise ValueError(f"edit must be text, got {self.edit!r}")
        if self.max_side not in (None, 0) and self.max_side < 32:
            raise ValueError(f"max_side must be 0 (full size) or at least 32, got {self.max_side}")
        from faceveil.anonymize.registry import get_method

        check = get_method(self.method).validate
        if check is not None:  # per-method checks, e.g. the edit syntax of attributes
            check(self)

    def detect_kwargs(self, kind: str) -> dict:
        """Keyword arguments of :func:`faceveil.detect` for an ``image`` or a ``video`` frame."""
        video = kind == "video"
        max_side = self.max_side if self.max_side is not None else (640 if video else 1280)
        small = self.small_faces if self.small_faces is not None else not video
        return {
            "threshold": self.threshold,
            "max_side": max_side or None,
            "small_faces": small,
            "recall": self.recall,
        }

    @classmethod
    def from_kwargs(cls, **kwargs) -> AnonymizeOptions:
        unknown = set(kwargs) - {f.name for f in fields(cls)}
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
        d["boxes"] = None if self.boxes is None else str(self.boxes)
        d["keep_gallery"] = None if self.keep_gallery is None else str(self.keep_gallery)
        return d


def declared() -> Iterator[tuple[dataclasses.Field, Option]]:
    """(field, declaration) of every option, in declaration order."""
    for f in fields(AnonymizeOptions):
        yield f, f.metadata["option"]


def fields_for(surface: str) -> list[tuple[dataclasses.Field, Option]]:
    """The options a surface (one of :data:`SURFACES`) offers."""
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; one of {', '.join(SURFACES)}")
    return [(f, spec) for f, spec in declared() if surface in spec.surfaces]


def names_for(surface: str) -> tuple[str, ...]:
    return tuple(f.name for f, _ in fields_for(surface))


def options_from(surface: str, values: Mapping[str, Any]) -> AnonymizeOptions:
    """AnonymizeOptions from what a surface received; an option the surface may not set (a
    server path, say) or a bad value raises :class:`InputError` with one line."""
    allowed = set(names_for(surface))
    bad = set(values) - allowed
    if bad:
        raise InputError(f"unknown or forbidden option(s): {', '.join(sorted(map(str, bad)))}")
    try:
        return AnonymizeOptions(**values)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None


def _check_field(name: str, value: Any, spec: Option) -> None:
    if value is None:
        return
    choices = spec.choice_list()
    if choices is not None and value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    if spec.ge is None and spec.gt is None and spec.le is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if (
        (spec.ge is not None and value < spec.ge)
        or (spec.gt is not None and value <= spec.gt)
        or (spec.le is not None and value > spec.le)
    ):
        lower = (
            f"at least {spec.ge:g}" if spec.ge is not None else
            f"above {spec.gt:g}" if spec.gt is not None else ""
        )  # fmt: skip
        upper = f"at most {spec.le:g}" if spec.le is not None else ""
        bounds = " and ".join(b for b in (lower, upper) if b)
        raise ValueError(f"{name} must be {bounds}, got {value}")


def form_fields() -> list[dict]:
    """The studio form's fields, derived from the declarations (served by the API)."""
    out = []
    for f, spec in fields_for("form"):
        choices = spec.choice_list()
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        widget = (
            "select" if choices else "color" if f.type == "tuple[int, int, int]" else
            "checkbox" if f.type == "bool" else
            "text" if f.type in ("str | None", "str") else "number"
        )  # fmt: skip
        entry = {
            "name": f.name,
            "label": spec.label or f.name,
            "help": spec.help,
            "widget": widget,
            "default": default,
            "choices": list(choices or ()),
            "choice_labels": list(spec.choice_labels or choices or ()),
            "methods": list(spec.methods),
        }
        for bound in ("ge", "gt", "le", "step"):
            if getattr(spec, bound) is not None:
                entry[bound] = getattr(spec, bound)
        out.append(entry)
    return out
