"""Deleting stored content: at once when the last reference to it goes (a dataset image, a
dataset), and after ``settings.result_retention_hours`` for results (of the image routes, of
finished jobs).

A stored file (``files/``, named by its sha256) is referenced by a dataset image with that sha,
or by a job whose parameters or result name it (an uploaded video, its anonymised copy).
Nothing else keeps it: the image routes' results are linked only in their answers, so they
live until the retention sweep. Deleting content deletes its thumbnails too.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from faceveil.server.files import is_sha
from faceveil.server.models_db import Image, Job, ModelRecord, StoredFile

log = logging.getLogger("faceveil.server")
FINISHED = ("done", "failed", "cancelled")
SWEEP_EVERY_S = 3600.0
_last_sweep: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sweep_lock = threading.Lock()


def _shas_in(value) -> set[str]:
    """Every sha256 string inside a JSON value (job parameters and results)."""
    if isinstance(value, str):
        return {value} if is_sha(value) else set()
    if isinstance(value, dict):
        value = list(value.values())
    found: set[str] = set()
    if isinstance(value, list | tuple):
        for item in value:
            found |= _shas_in(item)
    return found


def referenced(session: Session, shas: Iterable[str] | None = None) -> set[str]:
    """The shas (of `shas`, or all) that a dataset image or a job still references."""
    query = select(Image.sha).distinct()
    if shas is not None:
        shas = set(shas)
        query = query.where(Image.sha.in_(shas))
    found = set(session.scalars(query))
    for params, result in session.execute(select(Job.params, Job.result)):
        found |= _shas_in(params) | _shas_in(result)
    return found if shas is None else found & shas


def remove_content(store, sha: str) -> None:
    """The stored file of `sha` and its thumbnails (``thumbs/<sha>_<size>.jpg``)."""
    store.files.delete(sha)
    thumbs = store.data_dir / "thumbs"
    if thumbs.is_dir():
        for thumb in thumbs.glob(f"{sha}_*.jpg"):
            thumb.unlink(missing_ok=True)


def release(store, shas: Iterable[str]) -> list[str]:
    """Delete the content of those `shas` that nothing references any more (call after the
    references were deleted and committed); the shas deleted."""
    shas = {s for s in shas if is_sha(s)}
    if not shas:
        return []
    with store.session() as s:
        gone = sorted(shas - referenced(s, shas))
        for sha in gone:
            row = s.get(StoredFile, sha)
            if row is not None:
                s.delete(row)
    for sha in gone:
        remove_content(store, sha)
    return gone


def _sweep_jobs(store, cutoff: datetime) -> int:
    """Finished jobs last updated before `cutoff`: their results and working copies go; the
    row goes too unless a trained model names the job."""
    with store.session() as s:
        keep = set(s.scalars(select(ModelRecord.job_id).where(ModelRecord.job_id.is_not(None))))
        old = s.scalars(select(Job).where(Job.status.in_(FINISHED), Job.updated_at < cutoff))
        ids = []
        for job in old.all():
            ids.append(job.id)
            if job.id not in keep:
                s.delete(job)
    for job_id in ids:
        shutil.rmtree(store.job_dir(job_id), ignore_errors=True)
        shutil.rmtree(store.work_dir / str(job_id), ignore_errors=True)
    return len(ids)


def _old(path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def _sweep_files(store, cutoff: float) -> int:
    """Stored files nothing references, untouched since `cutoff` (a result linked again is
    touched by the file store, so it is not taken away from a fresh answer)."""
    with store.session() as s:
        refs = referenced(s)
    removed = []
    for folder in (p for p in store.files.root.iterdir() if p.is_dir()):
        for path in folder.iterdir():
            sha = path.name.split(".", 1)[0]
            if path.name.startswith(".tmp-") and _old(path, cutoff):
                path.unlink(missing_ok=True)  # a write that died half-way
            elif is_sha(sha) and sha not in refs and _old(path, cutoff):
                remove_content(store, sha)
                removed.append(sha)
    if removed:
        with store.session() as s:
            for row in s.scalars(select(StoredFile).where(StoredFile.sha.in_(removed))):
                s.delete(row)
    thumbs = store.data_dir / "thumbs"
    if thumbs.is_dir():  # thumbnails of content deleted by hand
        for thumb in thumbs.glob("*_*.jpg"):
            if store.files.find(thumb.name.split("_", 1)[0]) is None:
                thumb.unlink(missing_ok=True)
    return len(removed)


def sweep(store, now: float | None = None) -> dict[str, int]:
    """Delete results older than ``settings.result_retention_hours`` (none when it is 0):
    finished jobs' results, and stored files nothing references."""
    hours = float(store.settings.result_retention_hours or 0)
    if hours <= 0:
        return {"jobs": 0, "files": 0}
    cutoff = (time.time() if now is None else now) - hours * 3600
    jobs = _sweep_jobs(store, datetime.fromtimestamp(cutoff, timezone.utc))
    files = _sweep_files(store, cutoff)
    if jobs or files:
        log.info("retention: %d finished job(s) and %d stored file(s) deleted", jobs, files)
    return {"jobs": jobs, "files": files}


def sweep_due(store) -> dict[str, int] | None:
    """:func:`sweep` at most once an hour per store (at startup, then as results are
    written); a failed sweep is logged, never raised into the request that triggered it."""
    hours = float(store.settings.result_retention_hours or 0)
    if hours <= 0:
        return None
    now = time.monotonic()
    with _sweep_lock:
        last = _last_sweep.get(store)
        if last is not None and now - last < min(SWEEP_EVERY_S, hours * 900):
            return None
        _last_sweep[store] = now
    try:
        return sweep(store)
    except Exception:  # housekeeping must not fail a request
        log.exception("retention sweep failed")
        return None
