"""Face gallery: enrol a named face, search by photo, list and remove names.

Embeddings are SFace vectors of the largest face (faceveil's own ``find_faces``). The logic is
the library's :class:`~faceveil.analysis.gallery.Gallery`, over the studio database
(:class:`~faceveil.server.gallery_backend.StoreBackend`), so the gallery follows
FACEVEIL_DATABASE_URL.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field, field_validator

from faceveil.analysis.gallery import Gallery
from faceveil.errors import InputError
from faceveil.server import uploads
from faceveil.server.api import schemas as s
from faceveil.server.api.body import body_doc, read_body
from faceveil.server.errors import ApiError
from faceveil.server.gallery_backend import StoreBackend
from faceveil.server.limits import run_heavy
from faceveil.server.store import get_store

ERRORS = s.error_responses(
    {
        400: "bad input (corrupt image, no face)",
        401: "missing or wrong API token",
        404: "no such name",
        413: "upload too large",
        415: "not an image (checked by content)",
        422: "invalid options",
    }
)
router = APIRouter(prefix="/gallery", tags=["gallery"], responses=ERRORS)


class EnrolOptions(s.Strict):
    name: str = Field(..., min_length=1, max_length=200, description="the person's name")

    @field_validator("name")
    @classmethod
    def _clean(cls, v: str) -> str:
        v = v.strip()
        if not v or "\x00" in v:  # PostgreSQL refuses NUL in text
            raise ValueError("name must be non-blank text without NUL characters")
        return v


class SearchOptions(s.Strict):
    top_k: int = Field(5, ge=1, le=100, description="names returned at most")
    detect_threshold: float = Field(0.6, gt=0, le=1)


class GalleryName(BaseModel):
    name: str
    count: int = Field(description="faces enrolled under this name")


class GalleryList(BaseModel):
    faces: list[GalleryName]
    total: int = Field(description="faces enrolled in all")


class Enrolled(BaseModel):
    name: str
    enrolled: int
    faces_found: int = Field(description="faces detected in the upload (the largest is used)")


class MatchOut(BaseModel):
    name: str
    similarity: float
    same_person: bool


class SearchResponse(BaseModel):
    matches: list[MatchOut]


class Removed(BaseModel):
    name: str
    removed: int


def _gallery(request: Request) -> Gallery:
    return Gallery(StoreBackend(get_store(request)))


def _largest_face(request: Request, data: bytes, threshold: float = 0.6):
    """SFace embedding of the largest face of an uploaded image, and the faces detected."""
    from faceveil.analysis.verify import find_faces

    pixels = uploads.read_image_upload(data, request.app.state.settings)
    found = find_faces(pixels, detect_threshold=threshold, largest_only=True)
    if not found.faces:
        raise ApiError(400, "no face found in the image")
    return found.embeddings[0], found.detected


@router.get("", response_model=GalleryList)
def list_gallery(request: Request) -> GalleryList:
    """Enrolled names with their face counts."""
    rows = _gallery(request).list()
    return GalleryList.model_validate({"faces": rows, "total": sum(r["count"] for r in rows)})


@router.post(
    "", response_model=Enrolled, openapi_extra=body_doc(EnrolOptions, ("file",), ("file",))
)
async def enrol(request: Request) -> Enrolled:
    """Enrol the largest face of the image under `name` (a name may hold many faces)."""
    body = await read_body(request, EnrolOptions, ("file",))
    name = body.options.name

    def work():
        emb, detected = _largest_face(request, body.file("file"))
        n = _gallery(request).add_embeddings(name, emb[None, :], sources=["upload"])
        return Enrolled(name=name, enrolled=n, faces_found=detected)

    return await run_heavy(request, work)


@router.post(
    "/search",
    response_model=SearchResponse,
    openapi_extra=body_doc(SearchOptions, ("file",), ("file",)),
)
async def search(request: Request) -> SearchResponse:
    """The enrolled names most similar to the largest face of the image, best first
    (``same_person``: cosine at or above SFace's calibrated threshold)."""
    body = await read_body(request, SearchOptions, ("file",))
    o: SearchOptions = body.options

    def work():
        emb, _ = _largest_face(request, body.file("file"), o.detect_threshold)
        matches = _gallery(request).search_embedding(emb, top_k=o.top_k)
        return SearchResponse(
            matches=[
                MatchOut(name=m.name, similarity=round(m.similarity, 4), same_person=m.same_person)
                for m in matches
            ]
        )

    return await run_heavy(request, work)


@router.delete("/{name}", response_model=Removed)
def remove(request: Request, name: str = Path(..., min_length=1, max_length=200)) -> Removed:
    """Remove every face enrolled under `name` (404 when there is none)."""
    try:
        removed = _gallery(request).remove(name)
    except InputError:  # a name no enrolment accepts (blank, control characters)
        removed = 0
    if not removed:
        raise ApiError(404, f"no faces enrolled under {name!r}")
    return Removed(name=name, removed=removed)
