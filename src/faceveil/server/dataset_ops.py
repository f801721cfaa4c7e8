"""Datasets: importing images (content-addressed, sniffed, described on import) and the
metadata filters. Shared by the datasets API and the jobs."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from faceveil.errors import InputError
from faceveil.server.models_db import SPLITS, Dataset, Image, ImageFace, ImageTag, StoredFile

MAX_TAGS = 32
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL
MAX_ZIP_MEMBERS = 10_000


def clean_tags(tags) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = tags.split(",")
    out = sorted({str(t).replace("\x00", "").strip().lower()[:64] for t in tags})
    out = [t for t in out if t]
    if len(out) > MAX_TAGS:
        raise InputError(f"at most {MAX_TAGS} tags per image")
    return out


def no_nul(*values) -> None:
    """PostgreSQL cannot store or compare text holding NUL: refuse it up front (400)."""
    for v in values:
        if isinstance(v, str) and "\x00" in v:
            raise InputError("text must not contain NUL characters")


def check_split(split: str | None) -> str | None:
    if split in (None, ""):
        return None
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}, got {str(split)[:20]!r}")
    return split


def _sniff_image(data: bytes) -> str | None:
    """The image format by content, or None."""
    from faceveil.server.uploads import sniff

    found = sniff(data)
    return found[1] if found and found[0] == "image" else None


def _unsafe_member(filename: str) -> bool:
    """An absolute path, a drive, or a '..' part: a name that points out of the archive."""
    parts = filename.replace("\\", "/").split("/")
    drive = len(parts[0]) == 2 and parts[0][1] == ":"
    return filename.startswith(("/", "\\")) or drive or ".." in parts


def expand_upload(
    name: str, data: bytes, limit: int, rejected: list[dict] | None = None
) -> list[tuple[str, bytes]]:
    """An upload as (name, bytes) members: a zip's files (directories and hidden files
    skipped, at most `limit` bytes unpacked in all), else the file itself. Members whose path
    is absolute or climbs out with '..' are skipped and listed in `rejected`
    (``{"name", "error"}``)."""
    from faceveil.server.uploads import sniff

    found = sniff(data)
    if not found or found[0] != "zip":
        return [(name, data)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError(f"{name}: not a readable zip") from None
    members, total = [], 0
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(f"{name}: more than {MAX_ZIP_MEMBERS} files in the zip")
    for info in infos:
        member = PurePosixPath(info.filename)
        if _unsafe_member(info.filename):
            if rejected is not None:
                shown = info.filename.replace("\x00", "")[:200]
                error = "unsafe path in the zip (absolute, or with '..'): not imported"
                rejected.append({"name": f"{name}/{shown}", "error": error})
            continue
        if any(part.startswith(".") or part == "__MACOSX" for part in member.parts):
            continue
        total += info.file_size  # as declared; checked again on the real bytes below
        if total > limit:
            raise InputError(f"{name}: unpacks to more than the upload limit")
        with archive.open(info) as f:  # read at most the declared size (+1 to catch liars)
            payload = f.read(info.file_size + 1)
        if len(payload) > info.file_size:
            raise InputError(f"{name}: {info.filename} is bigger than declared")
        members.append((f"{name}/{member.as_posix()}", payload))
    return members


def _describe(session: Session, sha: str, data: bytes, max_pixels: int | None) -> dict:
    """Metadata of an image: copied from another dataset's copy of the same file, else
    computed (decode, detect, analyse)."""
    known = session.scalars(select(Image).where(Image.sha == sha).limit(1)).first()
    if known is not None:
        return {"width": known.width, "height": known.height, "faces": list(known.faces_json)}
    from faceveil.io.images import MAX_PIXELS, read_image
    from faceveil.server.image_meta import describe
    from faceveil.server.uploads import check_pixels

    check_pixels(data, max_pixels)  # from the header, before anything is decoded
    return describe(read_image(data, max_pixels=max_pixels or MAX_PIXELS))


def import_image(
    store,
    session: Session,
    dataset: Dataset,
    name: str,
    data: bytes,
    *,
    split: str | None = None,
    tags: list[str] | None = None,
) -> tuple[Image, bool]:
    """Add one image to `dataset`: (image, created). InputError when it is not a readable
    image; the same bytes twice in a dataset give the existing image (created False)."""
    split = check_split(split)
    fmt = _sniff_image(data)
    if fmt is None:
        raise InputError("not an image (by content)")
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    existing = session.scalars(
        select(Image).where(Image.dataset_id == dataset.id, Image.sha == sha)
    ).first()
    if existing is not None:
        return existing, False
    try:
        meta = _describe(session, sha, data, getattr(store.settings, "max_pixels", None))
    except InputError as exc:
        raise InputError(str(exc).replace("image bytes: ", "")) from None
    suffix = "." + ("jpg" if fmt == "jpeg" else fmt)
    store.files.put(data, suffix)
    if session.get(StoredFile, sha) is None:
        session.add(StoredFile(sha=sha, size=len(data), suffix=suffix))
    image = Image(
        dataset_id=dataset.id,
        sha=sha,
        filename=PurePosixPath(name.replace("\x00", "")).name[:255] or sha[:12] + suffix,
        width=meta["width"],
        height=meta["height"],
        face_count=len(meta["faces"]),
        faces_json=meta["faces"],
        split=split,
    )
    for i, f in enumerate(meta["faces"]):
        image.faces.append(
            ImageFace(
                index=i,
                score=f.get("score", 0.0),
                age=f.get("age"),
                gender=f.get("gender"),
                emotion=f.get("emotion"),
                ita=f.get("ita"),
                skin_tone=f.get("skin_tone"),
            )
        )
    for tag in clean_tags(tags):
        image.tags.append(ImageTag(tag=tag))
    session.add(image)
    session.flush()
    return image, True


@dataclass
class ImageFilter:
    min_faces: int | None = None
    max_faces: int | None = None
    age_min: float | None = None
    age_max: float | None = None
    gender: str | None = None
    emotion: str | None = None
    skin_tone: str | None = None
    ita_min: float | None = None
    ita_max: float | None = None
    tag: str | None = None
    split: str | None = None

    def apply(self, query: Select) -> Select:
        """Image-level filters, plus face-level ones: some face matches all of them at once."""
        if self.min_faces is not None:
            query = query.where(Image.face_count >= self.min_faces)
        if self.max_faces is not None:
            query = query.where(Image.face_count <= self.max_faces)
        if self.split:
            query = query.where(Image.split == self.split)
        if self.tag:
            query = query.where(
                exists().where(ImageTag.image_id == Image.id, ImageTag.tag == self.tag.lower())
            )
        face = []
        if self.age_min is not None:
            face.append(ImageFace.age >= self.age_min)
        if self.age_max is not None:
            face.append(ImageFace.age <= self.age_max)
        if self.gender:
            face.append(ImageFace.gender == self.gender)
        if self.emotion:
            face.append(ImageFace.emotion == self.emotion)
        if self.skin_tone:
            face.append(ImageFace.skin_tone == self.skin_tone)
        if self.ita_min is not None:
            face.append(ImageFace.ita >= self.ita_min)
        if self.ita_max is not None:
            face.append(ImageFace.ita <= self.ita_max)
        if face:
            query = query.where(exists().where(and_(ImageFace.image_id == Image.id, *face)))
        return query


def list_images(
    session: Session, dataset_id: int, flt: ImageFilter, limit: int, offset: int
) -> tuple[list[Image], int]:
    """(one page of images by id, the total count matching)."""
    query = flt.apply(select(Image).where(Image.dataset_id == dataset_id))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Image.id).limit(limit).offset(offset)).all()
    return list(rows), int(total)
