"""The studio's gallery backend: :class:`faceveil.analysis.gallery.Gallery` rows in the
store's ``gallery_faces`` table, so the gallery follows FACEVEIL_DATABASE_URL.

A thin adapter: every rule (names, normalisation, ranking, thresholds) is the Gallery's. The
table has no box or change counter (its schema is the migrations'), so boxes are not kept and
each search reads the rows afresh.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, func, select

from faceveil.analysis.gallery import EnrolledFace, Rows
from faceveil.server.models_db import GalleryFace
from faceveil.server.store import Store

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult


class StoreBackend:
    """A :class:`~faceveil.analysis.gallery.GalleryBackend` over a :class:`Store`'s sessions."""

    def __init__(self, store: Store):
        self.store = store

    def __repr__(self) -> str:
        return f"StoreBackend({self.store.engine.url!r})"  # URL's repr hides a password

    def insert(self, faces: Sequence[EnrolledFace]) -> int:
        with self.store.session() as s:
            s.add_all(
                GalleryFace(name=f.name, source=f.source, embedding=f.embedding) for f in faces
            )
        return len(faces)

    def embeddings(self, known: Hashable | None) -> tuple[None, Rows]:
        q = select(GalleryFace.id, GalleryFace.name, GalleryFace.embedding)
        with self.store.session() as s:
            rows = s.execute(q.order_by(GalleryFace.id)).all()
        return None, [(int(i), n, bytes(e)) for i, n, e in rows]

    def sources(self, ids: Sequence[int]) -> dict[int, str | None]:
        q = select(GalleryFace.id, GalleryFace.source).where(GalleryFace.id.in_(list(ids)))
        with self.store.session() as s:
            return {int(i): src for i, src in s.execute(q)}

    def counts(self) -> list[tuple[str, int]]:
        q = select(GalleryFace.name, func.count()).group_by(GalleryFace.name)
        with self.store.session() as s:
            return [(n, int(c)) for n, c in s.execute(q)]

    def remove(self, name: str) -> int:
        with self.store.session() as s:
            result = s.execute(delete(GalleryFace).where(GalleryFace.name == name))
            # A DELETE gives a CursorResult (it has rowcount); execute's type says Result.
            return int(cast("CursorResult[Any]", result).rowcount)

    def __len__(self) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(GalleryFace)) or 0)
