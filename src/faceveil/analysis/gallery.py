"""A gallery of enrolled faces for 1:N search: one :class:`Gallery` over a storage backend.

:class:`Gallery` holds the logic (enrolment from images or embeddings, name checks, search by
cosine with top-k and the same-person threshold, names with counts, removal); a backend
(:class:`GalleryBackend`) only stores rows. :class:`SQLiteBackend` keeps them in one SQLite
file (the CLI and the Python API); the studio's backend, over its database, lives in
``faceveil.server.gallery_backend``.

Each row holds a name, the source file name, the face box, a unit SFace embedding (128
float32, 512 bytes) and the time of enrolment. Search embeds the largest face of the query
image and compares it with every enrolled face at once: the embeddings are loaded into one
float32 matrix on first search and kept until the gallery changes, and a matrix-vector product
plus ``np.argpartition`` ranks them (under 10 ms at 100,000 faces on 2 cores; see
``bench/gallery.py``), so no approximate index is needed.

In the SQLite file every operation opens and closes its own connection, and writes run in
``BEGIN IMMEDIATE`` transactions on a WAL journal, so several processes may share a gallery. A
generation counter, bumped by every write in the same transaction, tells a process when its
matrix is stale.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.analysis.verify import ImageSource, describe, find_faces
from faceveil.errors import InputError, OutputError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MODEL = "sface-2021dec"
DIM = 128
MAX_NAME = 200
_TIMEOUT = 30.0  # seconds a write waits for another writer

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    source TEXT,
    x REAL, y REAL, w REAL, h REAL,
    embedding BLOB NOT NULL CHECK (length(embedding) = {DIM * 4}),
    created TEXT NOT NULL
);
CREATE INDEX faces_by_name ON faces (name);
"""


def default_gallery_path() -> Path:
    """``$FACEVEIL_GALLERY``, else ``$XDG_DATA_HOME/faceveil/gallery.sqlite3`` (where
    ``XDG_DATA_HOME`` defaults to ``~/.local/share``)."""
    env = os.environ.get("FACEVEIL_GALLERY")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "faceveil" / "gallery.sqlite3"


@dataclass(frozen=True)
class Match:
    """One search hit: the best-matching enrolled face of one name."""

    id: int  # row id of the enrolled face
    name: str
    similarity: float  # cosine similarity to the query face
    same_person: bool  # similarity >= threshold
    source: str | None = None  # file name the face was enrolled from

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "similarity": round(self.similarity, 4),
            "same_person": self.same_person,
            "source": self.source,
        }


@dataclass(frozen=True)
class EnrolledFace:
    """One face to store: a checked name and a unit embedding as DIM little-endian float32."""

    name: str
    embedding: bytes
    source: str | None = None  # file name the face was enrolled from
    box: tuple[float, float, float, float] | None = None  # x, y, w, h in the source image


# Rows a backend loads for search: (id, name, embedding bytes), ordered by id.
Rows = list[tuple[int, str, bytes]]


@runtime_checkable
class GalleryBackend(Protocol):
    """Where a :class:`Gallery` keeps its faces. Backends store and fetch rows; names arrive
    checked and embeddings unit-length, and every ranking and ordering is the Gallery's."""

    def insert(self, faces: Sequence[EnrolledFace]) -> int:
        """Store `faces` in one transaction; returns how many."""
        ...

    def embeddings(self, known: Hashable | None) -> tuple[Hashable | None, Rows] | None:
        """(key, rows ordered by id), or None when the stored key equals `known` (nothing
        changed since). The key changes with every write; a backend without one gives None
        as the key and never returns None, so its rows are read on every search."""
        ...

    def sources(self, ids: Sequence[int]) -> dict[int, str | None]:
        """The source of each face id given."""
        ...

    def counts(self) -> list[tuple[str, int]]:
        """(name, number of faces) for every enrolled name, in any order."""
        ...

    def remove(self, name: str) -> int:
        """Delete every face of `name`; returns how many."""
        ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class _Snapshot:
    key: Hashable | None  # the backend's change key, e.g. (gallery uid, generation)
    ids: np.ndarray  # (N,) int64
    matrix: np.ndarray  # (N, DIM) float32, unit rows
    name_index: np.ndarray  # (N,) int32 into names
    names: list[str]

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.matrix.nbytes + self.name_index.nbytes


_EMPTY = _Snapshot(
    None,
    np.zeros(0, np.int64),
    np.zeros((0, DIM), np.float32),
    np.zeros(0, np.int32),
    [],
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InputError("a gallery name must be non-empty text")
    name = name.strip()
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise InputError(
            f"gallery names are at most {MAX_NAME} characters without control characters"
        )
    return name


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    e = np.asarray(embeddings, np.float32)
    if e.ndim == 1:
        e = e[None]
    if e.ndim != 2 or e.shape[1] != DIM:
        raise ValueError(f"embeddings must have shape (N, {DIM}), got {np.shape(embeddings)}")
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if not np.all(np.isfinite(e)) or np.any(norms == 0):
        raise ValueError("embeddings must be finite and non-zero")
    return np.ascontiguousarray(e / norms, dtype="<f4")


class SQLiteBackend:
    """Gallery rows in one SQLite file (:class:`GalleryBackend`).

    Parameters
    ----------
    path : the gallery file; None means :func:`default_gallery_path`. It is created, with its
        folder, by the first enrolment; reading a missing gallery gives an empty one.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path).expanduser() if path is not None else default_gallery_path()

    def __repr__(self) -> str:
        return f"SQLiteBackend({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection for one operation; None when reading a gallery that does not exist."""
        if not write and not self.path.exists():
            yield None
            return
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, not a gallery file")
        if write:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{self.path.parent}: cannot create ({exc.strerror})") from None
        try:
            con = sqlite3.connect(self.path, timeout=_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            err = OutputError if write else InputError
            raise err(f"{self.path}: cannot open the gallery ({exc})") from None
        try:
            if self._ensure_schema_retrying(con, write=write):
                yield con
            else:
                yield None  # an empty file, read only
        except sqlite3.OperationalError as exc:
            if write:
                raise OutputError(f"{self.path}: cannot write the gallery ({exc})") from None
            raise InputError(f"{self.path}: cannot read the gallery ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a faceveil gallery ({exc})") from None
        finally:
            con.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A connection for one write, inside a transaction."""
        with self._connect(write=True) as con:
            assert con is not None  # None only for reads of a missing or empty file
            with _transaction(con):
                yield con

    def _ensure_schema_retrying(self, con: sqlite3.Connection, *, write: bool) -> bool:
        """:meth:`_ensure_schema`, retried while another process creates the gallery: SQLite
        answers "database is locked" at once, without waiting, while a new file's journal
        turns to WAL."""
        deadline = time.monotonic() + _TIMEOUT
        while True:
            try:
                return self._ensure_schema(con, write=write)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _ensure_schema(self, con: sqlite3.Connection, *, write: bool) -> bool:
        """Check the file is a gallery of this version; create the tables on first write.
        False when the file is empty and nothing may be written."""
        with _transaction(con, "BEGIN"):  # one snapshot: another process may be creating it
            state = self._schema_state(con)
        if state == "empty":
            if not write:
                return False
            con.execute("PRAGMA journal_mode=WAL")
            with _transaction(con):
                if self._schema_state(con) == "empty":  # still: no other process created it
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            con.execute(statement)
                    con.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("format", "faceveil-gallery"),
                            ("model", MODEL),
                            ("dim", str(DIM)),
                            ("uid", uuid.uuid4().hex),
                            ("generation", "0"),
                        ],
                    )
                    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return True

    def _schema_state(self, con: sqlite3.Connection) -> str:
        """The file's state, "empty" or "ok"; InputError for other files."""
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            if con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise InputError(f"{self.path}: an SQLite file, but not a faceveil gallery")
            return "empty"
        if version != SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: gallery format {version} is not supported "
                f"(this faceveil reads format {SCHEMA_VERSION})"
            )
        meta = dict(con.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dim')"))
        if meta.get("model") != MODEL or meta.get("dim") != str(DIM):
            raise InputError(
                f"{self.path}: gallery made with model {meta.get('model')!r}, "
                f"this faceveil uses {MODEL!r}"
            )
        return "ok"

    def insert(self, faces: Sequence[EnrolledFace]) -> int:
        created = _now()
        rows = [(f.name, f.source, *(f.box or (None,) * 4), f.embedding, created) for f in faces]
        with self._writing() as con:
            con.executemany(
                "INSERT INTO faces (name, source, x, y, w, h, embedding, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            _bump(con)
        return len(rows)

    def embeddings(self, known: Hashable | None) -> tuple[Hashable | None, Rows] | None:
        with self._connect(write=False) as con:
            if con is None:
                return None, []
            with _transaction(con, "BEGIN"):  # one consistent read of meta and rows
                meta = dict(
                    con.execute("SELECT key, value FROM meta WHERE key IN ('uid', 'generation')")
                )
                key = (meta["uid"], int(meta["generation"]))
                if key == known:
                    return None
                rows = con.execute("SELECT id, name, embedding FROM faces ORDER BY id").fetchall()
                return key, rows

    def sources(self, ids: Sequence[int]) -> dict[int, str | None]:
        with self._connect(write=False) as con:
            if con is None:
                return {}
            marks = ",".join("?" * len(ids))
            return dict(
                con.execute(
                    f"SELECT id, source FROM faces WHERE id IN ({marks})", [int(i) for i in ids]
                )
            )

    def counts(self) -> list[tuple[str, int]]:
        with self._connect(write=False) as con:
            if con is None:
                return []
            return con.execute("SELECT name, count(*) FROM faces GROUP BY name").fetchall()

    def remove(self, name: str) -> int:
        if not self.path.exists():
            return 0
        with self._writing() as con:
            removed = con.execute("DELETE FROM faces WHERE name = ?", (name,)).rowcount
            if removed:
                _bump(con)
        return removed

    def __len__(self) -> int:
        with self._connect(write=False) as con:
            if con is None:
                return 0
            return con.execute("SELECT count(*) FROM faces").fetchone()[0]


class Gallery:
    """Enrolled faces, searchable by image: the one gallery logic over a storage backend.

    Parameters
    ----------
    backend : a :class:`GalleryBackend`, or the path of a SQLite gallery file
        (:class:`SQLiteBackend`); None means the file at :func:`default_gallery_path`.

    Examples
    --------
    >>> g = Gallery("people.sqlite3")                         # doctest: +SKIP
    >>> g.add("alice", ["alice1.jpg", "alice2.jpg"])           # doctest: +SKIP
    2
    >>> g.search("unknown.jpg", top_k=1)                       # doctest: +SKIP
    [Match(id=2, name='alice', similarity=0.71, same_person=True, source='alice2.jpg')]
    """

    def __init__(self, backend: GalleryBackend | str | Path | None = None):
        if backend is None or isinstance(backend, str | Path):
            backend = SQLiteBackend(backend)
        elif not isinstance(backend, GalleryBackend):
            raise TypeError(f"not a gallery backend or path: {backend!r}")
        self.backend = backend
        self._cache = _EMPTY
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        """The gallery file of a SQLite gallery; None for other backends."""
        return getattr(self.backend, "path", None)

    def __repr__(self) -> str:
        if isinstance(self.backend, SQLiteBackend):
            return f"Gallery({str(self.path)!r})"
        return f"Gallery({self.backend!r})"

    def _insert(self, faces: list[EnrolledFace]) -> int:
        try:
            return self.backend.insert(faces)
        finally:
            self._invalidate()

    def _invalidate(self) -> None:
        with self._lock:
            self._cache = _EMPTY

    def _snapshot(self) -> _Snapshot:
        """The enrolled embeddings as a matrix, reloaded only when the backend's key changed."""
        with self._lock:
            known = self._cache.key
        loaded = self.backend.embeddings(known)
        if loaded is None:
            with self._lock:
                return self._cache
        key, rows = loaded
        snap = _build_snapshot(key, rows)
        if key is not None:  # without a key, nothing tells when the copy goes stale
            with self._lock:
                self._cache = snap
        return snap

    # ------------------------------------------------------------------ public API

    def add(
        self,
        name: str,
        images: ImageSource | Iterable[ImageSource],
        *,
        skip_missing: bool = False,
        detect_threshold: float = 0.6,
    ) -> int:
        """Enrol the largest face of each image under `name`.

        Parameters
        ----------
        name : the person's name (one name may hold many faces).
        images : one image or several: paths, encoded bytes or arrays.
        skip_missing : images in which no face is found are skipped with a logged warning.
            By default they raise InputError and nothing is enrolled.
        detect_threshold : minimum YuNet detector score.

        Returns
        -------
        int, the number of faces enrolled.

        Raises
        ------
        InputError
            An image cannot be read, no face is found in an image (unless `skip_missing`), or
            in any of them.
        """
        name = _check_name(name)
        if isinstance(images, str | Path | bytes | np.ndarray):
            images = [images]
        faces, missing = [], []
        for image in images:
            found = find_faces(image, detect_threshold=detect_threshold, largest_only=True)
            if not found.faces:
                missing.append(describe(image))
                continue
            if found.detected > 1:
                log.warning(
                    "%s: %d faces found, enrolled the largest", describe(image), found.detected
                )
            x, y, w, h = (float(v) for v in found.faces[0].box)
            source = Path(image).name if isinstance(image, str | Path) else None
            emb = _unit_rows(found.embeddings[:1])
            faces.append(EnrolledFace(name, emb.tobytes(), source, (x, y, w, h)))
        if not faces and not missing:
            raise InputError("no images given to enrol")
        if missing and (not skip_missing or not faces):
            hint = " (skip_missing enrols the others)" if faces else ""
            raise InputError(f"no face found in {', '.join(missing)}; nothing enrolled{hint}")
        for m in missing:
            log.warning("%s: no face found, skipped", m)
        return self._insert(faces)

    def add_embeddings(
        self,
        names: str | Sequence[str],
        embeddings: np.ndarray,
        *,
        sources: Sequence[str | None] | None = None,
    ) -> int:
        """Enrol precomputed (N, 128) SFace embeddings (normalised here) in one transaction.

        `names` is one name for all rows or one per row. Returns the number enrolled.
        """
        emb = _unit_rows(embeddings)
        n = len(emb)
        if isinstance(names, str):
            names = [names] * n
        names = [_check_name(s) for s in names]
        if len(names) != n:
            raise ValueError(f"{len(names)} names for {n} embeddings")
        if sources is not None and len(sources) != n:
            raise ValueError(f"{len(sources)} sources for {n} embeddings")
        if n == 0:
            return 0
        src = sources if sources is not None else [None] * n
        return self._insert([EnrolledFace(names[i], emb[i].tobytes(), src[i]) for i in range(n)])

    def search(
        self,
        image: ImageSource,
        *,
        top_k: int = 5,
        threshold: float = SFACE_THRESHOLD,
        detect_threshold: float = 0.6,
    ) -> list[Match]:
        """The enrolled people most similar to the largest face in `image`.

        Parameters
        ----------
        image : path, encoded bytes or array.
        top_k : how many names to return at most (each with its best-matching face).
        threshold : cosine similarity at or above which a match is the same person.
        detect_threshold : minimum YuNet detector score.

        Returns
        -------
        list of Match, most similar first; empty when the gallery is empty.

        Raises
        ------
        InputError
            The image cannot be read or holds no face.
        """
        found = find_faces(image, detect_threshold=detect_threshold, largest_only=True)
        if not found.faces:
            raise InputError(f"no face found in {describe(image)}")
        return self.search_embedding(found.embeddings[0], top_k=top_k, threshold=threshold)

    def search_embedding(
        self, embedding: np.ndarray, *, top_k: int = 5, threshold: float = SFACE_THRESHOLD
    ) -> list[Match]:
        """:meth:`search` for a (128,) embedding computed elsewhere."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        query = _unit_rows(embedding)[0]
        snap = self._snapshot()
        n = len(snap.ids)
        if n == 0:
            return []
        sims = snap.matrix @ query
        # Best face per name: widen the candidate set until it holds top_k distinct names.
        m = min(n, max(4 * top_k, 64))
        while True:
            cand = np.argpartition(-sims, m - 1)[:m] if m < n else np.arange(n)
            cand = cand[np.argsort(-sims[cand], kind="stable")]
            _, first = np.unique(snap.name_index[cand], return_index=True)
            if len(first) >= top_k or m == n:
                break
            m = min(n, m * 8)
        best = cand[np.sort(first)[:top_k]]
        sources = self.backend.sources([int(i) for i in snap.ids[best]])
        return [
            Match(
                int(snap.ids[i]),
                snap.names[snap.name_index[i]],
                float(sims[i]),
                bool(sims[i] >= threshold),
                sources.get(int(snap.ids[i])),
            )
            for i in best
        ]

    def list(self) -> list[dict]:
        """Enrolled names with their face counts, ``[{"name": ..., "count": ...}]`` by name
        (code point order, the same in every backend)."""
        return [{"name": n, "count": int(c)} for n, c in sorted(self.backend.counts())]

    def remove(self, name: str) -> int:
        """Delete every face enrolled under `name`; returns how many (0 for unknown names)."""
        name = _check_name(name)
        try:
            return self.backend.remove(name)
        finally:
            self._invalidate()

    def __len__(self) -> int:
        return int(len(self.backend))


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    con.execute(begin)
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _bump(con: sqlite3.Connection) -> None:
    con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")


def _build_snapshot(key: Hashable | None, rows: Rows) -> _Snapshot:
    if not rows:
        return _Snapshot(key, *(_EMPTY.ids, _EMPTY.matrix, _EMPTY.name_index), [])
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    if any(len(r[2]) != DIM * 4 for r in rows):
        raise InputError(f"the gallery holds an embedding that is not {DIM} float32")
    matrix = np.frombuffer(b"".join(r[2] for r in rows), "<f4").reshape(len(rows), DIM)
    index: dict[str, int] = {}
    name_index = np.fromiter(
        (index.setdefault(r[1], len(index)) for r in rows), np.int32, len(rows)
    )
    return _Snapshot(key, ids, matrix.astype(np.float32, copy=False), name_index, list(index))
