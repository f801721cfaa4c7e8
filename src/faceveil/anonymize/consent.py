"""Consenting people left visible (``--keep-gallery DB --keep-names alice,bob``): a face is kept
only when SFace matches it to one of the named, enrolled people clearly; everyone else,
unknown faces included, is anonymised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, embed_faces
from faceveil.errors import InputError
from faceveil.faces import Face

if TYPE_CHECKING:
    from faceveil.analysis.gallery import Gallery

KEEP_SIMILARITY = SFACE_THRESHOLD + 0.1  # stricter than "same person": a wrong keep exposes
KEEP_MARGIN = 0.1  # over the next enrolled person: a look-alike is anonymised
RECHECK_FRAMES = 5  # a video track's verdict is looked at again this often


@dataclass
class Verdict:
    """Whether one face is kept, and who it matched at what similarity."""

    kept: bool
    name: str | None = None
    similarity: float | None = None

    def to_dict(self, face: Face) -> dict:
        return {
            "box": face.to_dict()["box"],
            "name": self.name,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
        }


@dataclass
class Consent:
    """The consenting people of one run; :meth:`split` sorts faces into kept and anonymised.
    Per-track verdicts live here, so one is made for every file."""

    gallery: Gallery
    names: frozenset[str]
    tracks: dict[int, tuple[int, Verdict]] = field(default_factory=dict)  # id -> (frame, v)

    @classmethod
    def from_options(cls, options) -> Consent | None:
        if options.keep_gallery is None and not options.keep_names:
            return None
        if options.keep_gallery is None or not options.keep_names:
            raise InputError("--keep-gallery and --keep-names go together")
        from faceveil.analysis.gallery import Gallery

        gallery = Gallery(options.keep_gallery)
        names = frozenset(n.strip() for n in options.keep_names.split(",") if n.strip())
        enrolled = {row["name"] for row in gallery.list()}
        if missing := sorted(names - enrolled):
            raise InputError(f"--keep-names: not enrolled in {options.keep_gallery}: {missing}")
        return cls(gallery, names)

    def verdict(self, embedding: np.ndarray) -> Verdict:
        best = self.gallery.search_embedding(embedding, top_k=2)
        if not best:
            return Verdict(False)
        top = best[0]
        runner_up = best[1].similarity if len(best) > 1 else -1.0
        clear = top.similarity >= KEEP_SIMILARITY and top.similarity - runner_up >= KEEP_MARGIN
        return Verdict(clear and top.name in self.names, top.name, top.similarity)

    def split(
        self, rgb: np.ndarray, faces: list[Face], frame: int | None = None
    ) -> tuple[list[Face], list[dict]]:
        """(faces to anonymise, the kept ones' reports). In a video (`frame` given), a track's
        verdict is reused for RECHECK_FRAMES frames."""
        verdicts: dict[int, Verdict] = {}
        ask = []
        for i, face in enumerate(faces):
            known = self.tracks.get(face.track_id) if face.track_id is not None else None
            if frame is not None and known is not None and frame - known[0] < RECHECK_FRAMES:
                verdicts[i] = known[1]
            else:
                ask.append(i)
        for i, embedding in zip(ask, embed_faces(rgb, [faces[i] for i in ask]), strict=True):
            verdicts[i] = self.verdict(embedding)
            track = faces[i].track_id
            if frame is not None and track is not None:
                self.tracks[track] = (frame, verdicts[i])
        covered = [f for i, f in enumerate(faces) if not verdicts[i].kept]
        kept = [verdicts[i].to_dict(f) for i, f in enumerate(faces) if verdicts[i].kept]
        return covered, kept
