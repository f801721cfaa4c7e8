"""Datasets: create, import images (files or zips, sniffed by content, described on import
with faceveil's detector and attribute models), browse with metadata filters, edit tags and
split, delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from faceveil.errors import InputError
from faceveil.server import dataset_ops, limits, retention
from faceveil.server.errors import ApiError, scrub
from faceveil.server.image_meta import SKIN_TONE_NAMES
from faceveil.server.models_db import Dataset, Image, ImageTag
from faceveil.server.store import Store, get_store

router = APIRouter(tags=["datasets"])
StoreDep = Annotated[Store, Depends(get_store)]
Id = Annotated[int, Path(ge=1, le=dataset_ops.MAX_ID)]  # ids fit a 32-bit INTEGER column
Split = Literal["train", "test"]
THUMB_SIZES = (64, 128, 256, 512)


class DatasetCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)


class DatasetOut(BaseModel):
    id: int
    name: str
    description: str
    created_at: datetime
    image_count: int
    face_count: int


class FaceMeta(BaseModel):
    box: list[float] = Field(description="x, y, w, h in pixels")
    score: float
    age: float | None = None
    gender: str | None = None
    gender_prob: float | None = None
    emotion: str | None = None
    ita: float | None = Field(None, description="individual typology angle of the skin, degrees")
    skin_tone: str | None = Field(None, description=" | ".join(SKIN_TONE_NAMES))


class ImageOut(BaseModel):
    id: int
    dataset_id: int
    sha: str
    filename: str
    width: int
    height: int
    face_count: int
    faces: list[FaceMeta]
    split: Split | None
    tags: list[str]
    created_at: datetime
    file_url: str
    thumbnail_url: str


class ImagePage(BaseModel):
    items: list[ImageOut]
    total: int = Field(description="images matching the filters, over all pages")
    limit: int
    offset: int


class Rejected(BaseModel):
    name: str
    error: str


class ImportOut(BaseModel):
    added: list[ImageOut]
    duplicates: list[int] = Field(description="ids of images already in the dataset")
    rejected: list[Rejected]


class ImagePatch(BaseModel):
    tags: list[str] | None = Field(None, description="replaces the image's tags")
    split: Split | None = Field(None, description="train, test, or null to clear")


def _dataset_out(s, ds: Dataset) -> DatasetOut:
    n, faces = s.execute(
        select(func.count(Image.id), func.coalesce(func.sum(Image.face_count), 0)).where(
            Image.dataset_id == ds.id
        )
    ).one()
    return DatasetOut(
        id=ds.id,
        name=ds.name,
        description=ds.description,
        created_at=ds.created_at,
        image_count=int(n),
        face_count=int(faces),
    )


def image_out(request: Request, image: Image) -> ImageOut:
    ids = {"dataset_id": image.dataset_id, "image_id": image.id}
    return ImageOut(
        id=image.id,
        dataset_id=image.dataset_id,
        sha=image.sha,
        filename=image.filename,
        width=image.width,
        height=image.height,
        face_count=image.face_count,
        faces=[FaceMeta(**f) for f in image.faces_json or []],
        split=cast("Split | None", image.split),  # the column holds only validated splits
        tags=[t.tag for t in image.tags],
        created_at=image.created_at,
        file_url=str(request.url_for("image_file", **ids)),
        thumbnail_url=str(request.url_for("image_thumbnail", **ids)),
    )


def _get_dataset(s, dataset_id: Id) -> Dataset:
    ds = s.get(Dataset, dataset_id)
    if ds is None:
        raise ApiError(404, f"no dataset {dataset_id}")
    return ds


def _get_image(s, dataset_id: Id, image_id: Id) -> Image:
    _get_dataset(s, dataset_id)
    image = s.get(Image, image_id)
    if image is None or image.dataset_id != dataset_id:
        raise ApiError(404, f"no image {image_id} in dataset {dataset_id}")
    return image


@router.post("/datasets", status_code=201, response_model=DatasetOut)
def create_dataset(body: DatasetCreate, store: StoreDep) -> DatasetOut:
    """A new, empty dataset; 409 when the name is taken."""
    name = body.name.strip()
    try:
        dataset_ops.no_nul(name, body.description)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    if not name:
        raise ApiError(400, "name must not be blank")
    with store.session() as s:
        if s.scalars(select(Dataset).where(Dataset.name == name)).first():
            raise ApiError(409, f"a dataset named {name!r} exists already")
        ds = Dataset(name=name, description=body.description)
        s.add(ds)
        s.flush()
        return _dataset_out(s, ds)


@router.get("/datasets", response_model=list[DatasetOut])
def list_datasets(store: StoreDep) -> list[DatasetOut]:
    with store.session() as s:
        return [_dataset_out(s, d) for d in s.scalars(select(Dataset).order_by(Dataset.id))]


@router.get("/datasets/{dataset_id}", response_model=DatasetOut)
def get_dataset(dataset_id: Id, store: StoreDep) -> DatasetOut:
    with store.session() as s:
        return _dataset_out(s, _get_dataset(s, dataset_id))


@router.delete("/datasets/{dataset_id}", status_code=204, response_class=Response)
def delete_dataset(dataset_id: Id, store: StoreDep) -> Response:
    """Delete the dataset, its images and their files and thumbnails (files that another
    dataset or a job still uses stay)."""
    with store.session() as s:
        ds = _get_dataset(s, dataset_id)
        shas = set(s.scalars(select(Image.sha).where(Image.dataset_id == ds.id)))
        s.delete(ds)
    retention.release(store, shas)
    return Response(status_code=204)


@router.post("/datasets/{dataset_id}/images", response_model=ImportOut)
def import_images(
    dataset_id: Id,
    request: Request,
    store: StoreDep,
    files: Annotated[list[UploadFile], File(description="images, or zips of images")],
    split: Annotated[Split | None, Form()] = None,
    tags: Annotated[str | None, Form(description="comma-separated tags")] = None,
) -> ImportOut:
    """Add images; each is sniffed by content, described (faces, age, gender, expression,
    skin tone) and stored once. Files that are not readable images, larger than
    ``FACEVEIL_MAX_PIXELS``, or zip members with an unsafe path are listed in ``rejected``;
    the rest are imported. The import stops if the client hangs up."""
    try:
        tag_list = dataset_ops.clean_tags(tags)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    with store.session() as s:
        _get_dataset(s, dataset_id)
    out = ImportOut(added=[], duplicates=[], rejected=[])
    with limits.gate(request).slot():  # 503 while the studio is saturated
        _import_files(request, store, dataset_id, files, split, tag_list, out)
    retention.sweep_due(store)
    return out


def _import_files(request, store, dataset_id, files, split, tag_list, out: ImportOut) -> None:
    from faceveil.server.uploads import read_upload_bytes

    limit = store.settings.max_upload_bytes
    for upload in files:
        name = upload.filename or "upload"
        data = read_upload_bytes(upload, store.settings)  # 413 over the limit
        unsafe: list[dict] = []
        try:
            members = dataset_ops.expand_upload(name, data, limit, unsafe)
        except InputError as exc:
            out.rejected.append(Rejected(name=name, error=str(exc)))
            continue
        out.rejected.extend(Rejected(**r) for r in unsafe)
        for member, payload in members:
            if limits.client_gone_sync(request):
                return
            try:
                with store.session() as s:
                    ds = _get_dataset(s, dataset_id)
                    image, created = dataset_ops.import_image(
                        store, s, ds, member, payload, split=split, tags=tag_list
                    )
                    if created:
                        out.added.append(image_out(request, image))
                    else:
                        out.duplicates.append(image.id)
            except (InputError, ValueError) as exc:
                message = str(exc).splitlines()[0] if str(exc) else "unreadable"
                out.rejected.append(Rejected(name=member, error=scrub(message)))


@router.get("/datasets/{dataset_id}/images", response_model=ImagePage)
def list_images(
    dataset_id: Id,
    request: Request,
    store: StoreDep,
    min_faces: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    max_faces: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    age_min: Annotated[float | None, Query(ge=0, le=150)] = None,
    age_max: Annotated[float | None, Query(ge=0, le=150)] = None,
    gender: Literal["female", "male"] | None = None,
    emotion: Annotated[str | None, Query(max_length=32)] = None,
    skin_tone: Annotated[str | None, Query(description=" | ".join(SKIN_TONE_NAMES))] = None,
    ita_min: Annotated[float | None, Query(ge=-90, le=90)] = None,
    ita_max: Annotated[float | None, Query(ge=-90, le=90)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    split: Split | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=dataset_ops.MAX_ID)] = 0,
) -> ImagePage:
    """Images by id, filtered by metadata. Face filters (age, gender, emotion, skin tone,
    ITA) select images where one face matches all of them; ``total`` counts every match."""
    try:
        dataset_ops.no_nul(emotion, tag)
    except InputError as exc:
        raise ApiError(400, str(exc)) from None
    if skin_tone is not None and skin_tone not in SKIN_TONE_NAMES:
        raise ApiError(400, f"skin_tone must be one of {', '.join(SKIN_TONE_NAMES)}")
    flt = dataset_ops.ImageFilter(
        min_faces, max_faces, age_min, age_max, gender, emotion, skin_tone, ita_min, ita_max,
        tag, split,
    )  # fmt: skip
    with store.session() as s:
        _get_dataset(s, dataset_id)
        rows, total = dataset_ops.list_images(s, dataset_id, flt, limit, offset)
        items = [image_out(request, im) for im in rows]
    return ImagePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/datasets/{dataset_id}/images/{image_id}", response_model=ImageOut)
def get_image(dataset_id: Id, image_id: Id, request: Request, store: StoreDep) -> ImageOut:
    with store.session() as s:
        return image_out(request, _get_image(s, dataset_id, image_id))


@router.patch("/datasets/{dataset_id}/images/{image_id}", response_model=ImageOut)
def patch_image(
    dataset_id: Id, image_id: Id, body: ImagePatch, request: Request, store: StoreDep
) -> ImageOut:
    """Set the tags and/or the split (fields left out stay as they are)."""
    with store.session() as s:
        image = _get_image(s, dataset_id, image_id)
        if "split" in body.model_fields_set:
            image.split = body.split
        if body.tags is not None:
            try:
                tags = dataset_ops.clean_tags(body.tags)
            except InputError as exc:
                raise ApiError(400, str(exc)) from None
            image.tags.clear()
            s.flush()
            image.tags.extend(ImageTag(tag=t) for t in tags)
        s.flush()
        return image_out(request, image)


@router.delete("/datasets/{dataset_id}/images/{image_id}", status_code=204, response_class=Response)
def delete_image(dataset_id: Id, image_id: Id, store: StoreDep) -> Response:
    """Delete the image, and its file and thumbnails unless another dataset or a job still
    uses the same file."""
    with store.session() as s:
        image = _get_image(s, dataset_id, image_id)
        sha = image.sha
        s.delete(image)
    retention.release(store, [sha])
    return Response(status_code=204)


def _image_path(store: Store, dataset_id: Id, image_id: Id):
    with store.session() as s:
        sha = _get_image(s, dataset_id, image_id).sha
    path = store.files.find(sha)
    if path is None:
        raise ApiError(404, f"the file of image {image_id} is missing")
    return path


@router.get(
    "/datasets/{dataset_id}/images/{image_id}/file",
    name="image_file",
    response_class=FileResponse,
    responses={200: {"content": {"image/*": {}}}},
)
def image_file(dataset_id: Id, image_id: Id, store: StoreDep) -> FileResponse:
    import mimetypes

    path = _image_path(store, dataset_id, image_id)
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "image/png")


@router.get(
    "/datasets/{dataset_id}/images/{image_id}/thumbnail",
    name="image_thumbnail",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def image_thumbnail(
    dataset_id: Id,
    image_id: Id,
    store: StoreDep,
    size: Annotated[int, Query(description=f"longest side, one of {THUMB_SIZES}")] = 256,
) -> FileResponse:
    """A JPEG no larger than `size` px (made once, then cached)."""
    if size not in THUMB_SIZES:
        raise ApiError(400, f"size must be one of {', '.join(map(str, THUMB_SIZES))}")
    path = _image_path(store, dataset_id, image_id)
    thumb = store.data_dir / "thumbs" / f"{path.name.split('.')[0]}_{size}.jpg"
    if not thumb.exists():
        import cv2

        from faceveil.io.images import read_image, to_rgb8, write_image

        rgb = to_rgb8(read_image(path))
        scale = min(1.0, size / max(rgb.shape[:2]))
        if scale < 1.0:
            w, h = max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        write_image(thumb, rgb)
    return FileResponse(thumb, media_type="image/jpeg")
