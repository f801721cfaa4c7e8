"""The store: the database (migrated on open), content-addressed files, the job queue, the
model selection and the gallery table. One per app, in ``app.state.store``.

Jobs survive a restart: at open, jobs left ``running`` by a process that stopped become
``interrupted`` (resume them with :meth:`Store.resume_job`); ``queued`` ones simply run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from faceveil.errors import InputError
from faceveil.server import db
from faceveil.server.files import FileStore
from faceveil.server.models_db import Job, ModelRecord, utcnow
from faceveil.server.settings import Settings

LOG_TAIL = 8000  # characters of a job's log kept in the database
RESUMABLE = ("interrupted", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "params": job.params or {},
        "status": job.status,
        "progress": round(float(job.progress or 0.0), 2),
        "log": job.log or "",
        "result": job.result,
        "error": job.error,
        "cancel_requested": bool(job.cancel_requested),
        "attempts": job.attempts,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


class Store:
    """Database sessions, files under ``data_dir``, jobs, the selected generator (the gallery
    reaches the database through :class:`faceveil.server.gallery_backend.StoreBackend`)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = db.make_engine(settings.db_url)
        db.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.files = FileStore(self.data_dir / "files")
        self.results_dir = self.data_dir / "results"
        self.models_dir = self.data_dir / "models"
        self.work_dir = self.data_dir / "work"
        self.wake = threading.Event()  # set when a job is queued
        self._stop_flags: set[int] = set()
        self._lock = threading.Lock()
        self._interrupt_leftovers()

    # ------------------------------------------------------------------ database
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on an exception."""
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()

    def _interrupt_leftovers(self) -> None:
        with self.session() as s:
            s.execute(
                update(Job)
                .where(Job.status == "running")
                .values(status="interrupted", updated_at=utcnow())
            )

    # ------------------------------------------------------------------ jobs
    def job_dir(self, job_id: int) -> Path:
        return self.results_dir / str(int(job_id))

    def submit_job(self, kind: str, params: dict | None = None) -> int:
        """Queue a job; its parameters are checked now (InputError), it runs in the worker."""
        from faceveil.server.jobs import HANDLERS

        if kind not in HANDLERS:
            raise InputError(f"unknown job kind {kind!r} (known: {', '.join(sorted(HANDLERS))})")
        params = dict(params or {})
        handler = HANDLERS[kind]
        if handler.validate is not None:
            params = handler.validate(self, params)
        with self.session() as s:
            job = Job(kind=kind, params=params, status="queued", progress=0.0, log="")
            s.add(job)
            s.flush()
            job_id = job.id
        self.wake.set()
        return job_id

    def job(self, job_id: int) -> dict | None:
        with self.session() as s:
            job = s.get(Job, job_id)
            return job_dict(job) if job is not None else None

    def list_jobs(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict], int]:
        """(jobs newest first, total count matching)."""
        from sqlalchemy import func

        q = select(Job)
        if status:
            q = q.where(Job.status == status)
        if kind:
            q = q.where(Job.kind == kind)
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = s.scalars(q.order_by(Job.id.desc()).limit(limit).offset(offset)).all()
            return [job_dict(j) for j in rows], int(total)

    def cancel_job(self, job_id: int) -> dict | None:
        """Cancel: a queued job ends ``cancelled`` now, a running one when its handler next
        polls ``should_stop()``; a finished job is left as it is."""
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            if job.status in ("queued", "interrupted"):
                job.status, job.cancel_requested = "cancelled", True
                self._log(job, "cancelled before it ran")
            elif job.status == "running":
                job.cancel_requested = True
                self._log(job, "cancel requested")
            s.flush()
            out = job_dict(job)
        with self._lock:
            if out["status"] == "running":
                self._stop_flags.add(job_id)
        return out

    def resume_job(self, job_id: int) -> dict | None:
        """Queue an interrupted, failed or cancelled job again (train continues from its
        checkpoint). InputError for a job in any other state."""
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            if job.status not in RESUMABLE:
                raise InputError(
                    f"job {job_id} is {job.status}; only {', '.join(RESUMABLE)} resume"
                )
            job.status, job.cancel_requested, job.error = "queued", False, None
            self._log(job, "resumed")
            s.flush()
            out = job_dict(job)
        with self._lock:
            self._stop_flags.discard(job_id)
        self.wake.set()
        return out

    def stop_requested(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._stop_flags

    def request_stop(self, job_id: int) -> None:
        with self._lock:
            self._stop_flags.add(job_id)

    def clear_stop(self, job_id: int) -> None:
        with self._lock:
            self._stop_flags.discard(job_id)

    @staticmethod
    def _log(job: Job, message: str) -> None:
        """Append a line to a job's log in the job's own session (one SQL UPDATE with ||,
        so lines written at once by the worker and by a request are all kept)."""
        from sqlalchemy.orm import object_session

        stamp = utcnow().strftime("%H:%M:%S")
        line = f"{stamp} {message}\n"
        session = object_session(job)
        if session is None:  # every caller passes a job loaded in an open session
            raise RuntimeError(f"job {job.id} is not in a session")
        session.execute(
            update(Job).where(Job.id == job.id).values(log=Job.log + line),
            execution_options={"synchronize_session": False},
        )
        session.refresh(job, ["log"])
        if len(job.log or "") > 2 * LOG_TAIL:  # keep the tail only
            job.log = job.log[-LOG_TAIL:]

    def job_files(self, job_id: int) -> dict[str, Path]:
        """Files a job made, by name: its results folder and, for training, the model's
        samples, loss plot and logs. Only these names are ever served."""
        out: dict[str, Path] = {}
        folder = self.job_dir(job_id)
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                if p.is_file() and not p.name.startswith("."):
                    out[p.relative_to(folder).as_posix()] = p
        job = self.job(job_id)
        if job and job["kind"] == "train" and job["params"].get("name"):
            model_dir = self.models_dir / job["params"]["name"]
            for name in ("losses.png", "train_log.json", "model.json"):
                if (model_dir / name).is_file():
                    out[name] = model_dir / name
            for p in sorted((model_dir / "samples").glob("*.png")):
                out[f"samples/{p.name}"] = p
        return out

    # ------------------------------------------------------------------ models
    def selected_generator(self) -> str:
        """What :func:`faceveil.gen.get_generator` should load by default: the selected
        model's directory (trained) or name (library), else ``dcgan64``."""
        from faceveil.gen.registry import DEFAULT_GENERATOR

        with self.session() as s:
            rec = s.scalars(select(ModelRecord).where(ModelRecord.selected.is_(True))).first()
            if rec is None:
                return DEFAULT_GENERATOR
            return rec.path if rec.source == "trained" and rec.path else rec.name


def open_store(settings: Settings) -> Store:
    """Open (and migrate) the database of `settings`; jobs left running become interrupted."""
    return Store(settings)


def start_worker(store: Store):
    """Start the in-process job worker thread; call ``.stop()`` on the result to end it."""
    from faceveil.server.jobs import Worker

    worker = Worker(store)
    worker.start()
    return worker


def get_store(request: Request) -> Store:
    """FastAPI dependency: the app's store."""
    return request.app.state.store
