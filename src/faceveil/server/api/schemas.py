"""Pydantic models of the synchronous routes: request options and JSON responses.

Request models are flat (files are added to the documented body by
:func:`faceveil.server.api.body.body_doc`); bounds keep every request cheap enough to answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from faceveil.anonymize.options import fields_for

InvertMethod = Literal["auto", "encoder", "optimize", "encoder+optimize"]
ImageFormat = Literal["png", "jpeg"]
Seed = Field(0, ge=0, le=2**31 - 1, description="the same seed gives the same result")
Size = Field(256, ge=16, le=1024, description="output side in pixels")
Model = Field(None, max_length=200, description="generator name; the default one when absent")
MAX_GRID_PIXELS = 16 * 512 * 512


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- requests


def _pydantic_field(f, spec) -> tuple[Any, Any]:
    """(type, Field) of one declared option, for the request model."""
    choices = spec.choice_list()
    if choices:
        kind: Any = Literal[choices]
    elif f.type == "tuple[int, int, int]":  # a colour: [r, g, b] or text, parsed by the library
        kind = list[int] | str
    else:
        kind = {"float": float, "int": int, "int | None": int | None, "bool": bool,
                "bool | None": bool | None, "str | None": str | None}[str(f.type)]  # fmt: skip
    bounds = {k: getattr(spec, k) for k in ("ge", "gt", "le") if getattr(spec, k) is not None}
    if kind == str | None:
        bounds["max_length"] = 200
    default = list(f.default) if isinstance(f.default, tuple) else f.default
    return kind, Field(default, description=spec.help, **bounds)


class _OptionFields(Strict):
    def library_options(self) -> dict:
        """The anonymisation options of a request, as AnonymizeOptions keywords."""
        return self.model_dump(include=set(AnonymizeFields.model_fields))


# The anonymisation options the API takes: derived from their one declaration. A model built
# at run time has no static type; the checker sees the base class.
if TYPE_CHECKING:
    AnonymizeFields = _OptionFields
else:
    AnonymizeFields = create_model(
        "AnonymizeFields",
        __base__=_OptionFields,
        __doc__="The API's options of faceveil.AnonymizeOptions (no server paths).",
        **{f.name: _pydantic_field(f, spec) for f, spec in fields_for("api")},
    )


# The detect endpoint's options: the detection options of the same declaration.
if TYPE_CHECKING:
    DetectOptions = _OptionFields
else:
    DetectOptions = create_model(
        "DetectOptions",
        __base__=_OptionFields,
        __doc__="The detection options of faceveil.AnonymizeOptions.",
        **{f.name: _pydantic_field(f, spec) for f, spec in fields_for("detect")},
    )


class OptionField(BaseModel):
    name: str
    label: str
    help: str
    widget: Literal["select", "color", "checkbox", "text", "number"]
    default: Any = None
    choices: list[str] = []
    choice_labels: list[str] = []
    methods: list[str] = []
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    step: float | None = None


class OptionFieldsResponse(BaseModel):
    fields: list[OptionField]


Recognizers = Field(
    "sface",
    pattern=r"^(sface|dlib)(,(sface|dlib))*$",
    description="audit re-identification by: sface, and dlib (independent of the cloak)",
)


class AnonymizeRequest(AnonymizeFields):
    audit: bool = Field(False, description="JSON answers only: add the privacy audit summary")
    recognizers: str = Recognizers


class VerifyOptions(Strict):
    threshold: float = Field(0.363, ge=-1, le=1, description="SFace cosine for same person")
    all_pairs: bool = False
    detect_threshold: float = Field(0.6, gt=0, le=1)


class AnalyzeOptions(Strict):
    threshold: float = Field(0.6, gt=0, le=1)
    mesh: bool = Field(False, description="also return the 468 face-mesh points")


class AuditRequest(AnonymizeFields):
    """`file_a` is the original; `file_b` the anonymised image, or absent to anonymise the
    original with `method` and the other options first."""

    attributes: bool = Field(True, description="compare age, gender and emotion")
    reid_threshold: float = Field(0.363, ge=-1, le=1)
    recognizers: str = Recognizers


class RestoreRequest(Strict):
    model: str = Field("auto", max_length=200, description="generator name, or auto")
    smooth_k: int | None = Field(None, ge=2, le=64, description="k-means colour smoothing")
    seed: int = Seed


class GenerateRequest(Strict):
    n: int = Field(1, ge=1, le=64)
    seed: int = Seed
    truncation: float = Field(1.0, ge=0, le=1)
    size: int = Size
    model: str | None = Model
    columns: int | None = Field(None, ge=1, le=64)
    image_format: ImageFormat = "png"

    @model_validator(mode="after")
    def _bounded(self):
        if self.n * self.size**2 > MAX_GRID_PIXELS:
            raise ValueError(f"n * size^2 must be at most {MAX_GRID_PIXELS} (16 faces at 512 px)")
        return self


class InvertRequest(Strict):
    model: str | None = Model
    method: InvertMethod = "encoder"
    steps: int = Field(200, ge=0, le=1000)
    restarts: int = Field(4, ge=1, le=16)
    seed: int = Seed
    size: int = Size


class LatentStart(Strict):
    model: str | None = Model
    size: int = Size
    image_format: ImageFormat = "png"


class MixRequest(LatentStart):
    z_a: list[float] | None = Field(None, max_length=4096)
    z_b: list[float] | None = Field(None, max_length=4096)
    seed_a: int = Seed
    seed_b: int = Field(1, ge=0, le=2**31 - 1)
    alpha: float = Field(0.5, ge=0, le=1)


class EditRequest(LatentStart):
    z: list[float] | None = Field(None, max_length=4096, description="start latent")
    preset: str = Field("random", max_length=64, description="start when z is absent")
    seed: int = Seed
    changes: dict[str, float] = Field(
        default_factory=dict, description="direction -> amount in standard deviations"
    )
    orthogonal: bool = True

    @field_validator("changes")
    @classmethod
    def _bounded(cls, v):
        if len(v) > 512:
            raise ValueError("at most 512 directions")
        for name, amount in v.items():
            if not -20 <= amount <= 20:
                raise ValueError(f"amount of {name!r} must be in [-20, 20]")
        return v


# ---------------------------------------------------------------- responses


class ErrorOut(BaseModel):
    error: str
    status: int


def error_responses(described: dict[int, str]) -> dict:
    """OpenAPI ``responses`` for error statuses, each answered with :class:`ErrorOut`."""
    return {code: {"model": ErrorOut, "description": text} for code, text in described.items()}


class FileLink(BaseModel):
    sha: str
    url: str
    media_type: str


class FaceOut(BaseModel):
    box: list[float]
    score: float
    landmarks: list[list[float]]
    track_id: int | None = None
    predicted: bool | None = None


class DetectResponse(BaseModel):
    width: int
    height: int
    faces: list[FaceOut]
    seconds: float


class ReportOut(BaseModel):
    method: str
    seconds: float
    face_count: int
    faces: list[FaceOut]
    warnings: list[str] = []
    face_details: list[dict[str, Any]] = []


class AnonymizeResponse(BaseModel):
    result: FileLink
    width: int
    height: int
    report: ReportOut
    audit: dict[str, Any] | None = None


class PairOut(BaseModel):
    a: int
    b: int
    box_a: list[float]
    box_b: list[float]
    similarity: float
    same_person: bool


class VerifyResponse(BaseModel):
    similarity: float
    threshold: float
    same_person: bool
    box_a: list[float]
    box_b: list[float]
    faces_a: int
    faces_b: int
    pairs: list[PairOut]


class AttributesOut(BaseModel):
    box: list[float]
    score: float
    age: float
    gender: str
    gender_prob: float
    emotion: str
    emotions: dict[str, float]
    landmarks: list[list[float]]


class AnalyzeResponse(BaseModel):
    faces: list[AttributesOut]
    seconds: float


class FaceAuditOut(BaseModel):
    box: list[float]
    identity_similarity: float | None
    identity_similarity_detected: float | None
    re_identified: bool
    still_detectable: bool
    detection_score: float | None
    landmark_drift: float | None
    age_difference: float | None
    same_gender: bool | None
    same_emotion: bool | None
    expression_difference: float | None = None


class AuditResponse(BaseModel):
    summary: dict[str, float | int | None]
    ssim_outside: float
    psnr_outside: float | None
    background_identical: bool
    faces: list[FaceAuditOut]
    anonymized: FileLink | None = None
    seconds: float


class HealthResponse(BaseModel):
    status: Literal["ok"]
    version: str
    device: str
    generators: list[str]
    methods: list[str]
    auth: bool


class GenerateResponse(BaseModel):
    model: str
    seed: int
    grid: FileLink
    images: list[FileLink]
    latents: list[list[float]]


class RestoreResponse(BaseModel):
    note: str = Field(description="the filled regions are a plausible guess, not the real face")
    result: FileLink
    steps: dict[str, FileLink] = Field(
        description="generated, smoothed (when a face was filled), mask, result"
    )
    faces: list[dict[str, Any]]
    filled: int
    width: int
    height: int
    seconds: float


class InvertResponse(BaseModel):
    model: str
    z: list[float]
    reconstruction: FileLink
    target: FileLink
    method: str
    ssim: float
    identity_similarity: float | None
    same_person: bool | None
    face: FaceOut | None
    seconds: float


class LatentImageResponse(BaseModel):
    model: str
    z: list[float]
    image: FileLink
    seconds: float


class DirectionOut(BaseModel):
    name: str
    kind: Literal["raw", "pca", "attribute", "orthogonal"] | str


class DirectionsResponse(BaseModel):
    model: str
    latent_dim: int
    resolution: int
    licence: str
    training_data: str
    directions: list[DirectionOut]
    presets: list[str]
    unit: str = "standard deviations of the latent distribution along the direction"
