"""The in-process job worker: one thread that runs queued jobs, oldest first.

A handler is ``run(ctx: JobContext) -> dict`` (the result). ``ctx.params`` are the job's
parameters, ``ctx.progress(percent, message)`` reports progress (0-100) and appends to the log,
``ctx.should_stop()`` turns True when the job is cancelled or the app stops: a handler polls it
between steps and raises :class:`JobCancelled` (``ctx.check()`` does both); a handler that
returns is done. Result files go in
``ctx.result_dir`` (``data_dir/results/<job_id>/``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from faceveil.io.atomic import sweep_stale_temp
from faceveil.server.models_db import Job, utcnow

if TYPE_CHECKING:  # store.py imports this module when it runs jobs
    from faceveil.server.store import Store

log = logging.getLogger("faceveil.server.jobs")


class JobCancelled(Exception):
    """Raised by a handler that saw ``should_stop()``."""


@dataclass
class Handler:
    run: Callable[[JobContext], dict]
    validate: Callable | None = None  # (store, params) -> params, raising InputError
    # params -> None, raising InputError: what can be checked before an upload is stored
    check: Callable[[dict], None] | None = None


HANDLERS: dict[str, Handler] = {}


def register_handler(kind: str, run, validate=None, check=None) -> None:
    HANDLERS[kind] = Handler(run, validate, check)


@dataclass
class JobContext:
    store: Store
    job_id: int
    params: dict
    attempt: int
    result_dir: Path
    stopping: threading.Event | None = None  # the worker's: set when the app stops
    _last_write: float = field(default=0.0)

    def progress(self, percent: float, message: str = "") -> None:
        percent = min(max(float(percent), 0.0), 100.0)
        with self.store.session() as s:
            job = s.get(Job, self.job_id)
            if job is None:
                return
            job.progress = percent
            if message:
                self.store._log(job, message)
        if message:
            log.info("job %s: %s", self.job_id, message)

    def log(self, message: str) -> None:
        with self.store.session() as s:
            job = s.get(Job, self.job_id)
            if job is not None:
                self.store._log(job, message)

    def should_stop(self) -> bool:
        if self.store.stop_requested(self.job_id):
            return True
        if self.stopping is not None and self.stopping.is_set():
            return True
        # Another process (or a restart of this one) may have asked through the database.
        now = time.monotonic()
        if now - self._last_write < 0.5:
            return False
        self._last_write = now
        with self.store.session() as s:
            return bool(s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)))

    def check(self) -> None:
        """Raise JobCancelled when the job should stop."""
        if self.should_stop():
            raise JobCancelled()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Worker:
    """Runs jobs in a daemon thread until :meth:`stop`."""

    def __init__(self, store, poll_seconds: float = 1.0):
        self.store = store
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="faceveil-jobs", daemon=True)
        self.current: int | None = None

    def start(self) -> Worker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current job; a running job is asked to stop and ends ``interrupted``
        (a handler that does not poll is left to finish; a later open marks it interrupted)."""
        self._stop.set()
        current = self.current
        if current is not None:
            self.store.request_stop(current)
        self.store.wake.set()
        self._thread.join(timeout)

    def _claim(self) -> tuple[int, str, dict, int] | None:
        with self.store.session() as s:
            ids = s.scalars(
                select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(5)
            ).all()
        for job_id in ids:
            with self.store.session() as s:
                # Atomic claim: only one worker (of any process) moves it from queued.
                claimed = s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "queued")
                    .values(status="running", attempts=Job.attempts + 1, updated_at=utcnow())
                ).rowcount
            if claimed:
                with self.store.session() as s:
                    job = s.get(Job, job_id)
                    return job.id, job.kind, dict(job.params or {}), job.attempts
        return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self._claim()
            except Exception:  # the database went away for a moment: try again later
                log.exception("job worker: cannot claim a job")
                claimed = None
            if claimed is None:
                self.store.wake.wait(self.poll_seconds)
                self.store.wake.clear()
                continue
            self._run(*claimed)

    def _run(self, job_id: int, kind: str, params: dict, attempt: int) -> None:
        self.current = job_id
        ctx = JobContext(
            self.store, job_id, params, attempt, self.store.job_dir(job_id), stopping=self._stop
        )
        ctx.result_dir.mkdir(parents=True, exist_ok=True)
        sweep_stale_temp(ctx.result_dir, recursive=True)  # a killed attempt's partial outputs
        ctx.log(f"started ({kind}, attempt {attempt})")
        status, result, error = "done", None, None
        try:
            handler = HANDLERS.get(kind)
            if handler is None:
                raise ValueError(f"no handler for job kind {kind!r}")
            result = handler.run(ctx)
        except JobCancelled:
            status = "cancelled"
        except Exception as exc:  # a failed job is recorded with its one-line reason
            log.exception("job %s failed", job_id)
            status, error = "failed", _one_line(exc)
        if status == "cancelled" and self._stop.is_set() and not self._cancel_requested(job_id):
            status = "interrupted"  # the app stopped under it: resumable
        with self.store.session() as s:
            job = s.get(Job, job_id)
            job.status, job.error = status, error
            if result is not None:
                job.result = result
            if status == "done":
                job.progress = 100.0
            self.store._log(job, status + (f": {error}" if error else ""))
        self.store.clear_stop(job_id)
        self.current = None

    def _cancel_requested(self, job_id: int) -> bool:
        with self.store.session() as s:
            return bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id)))
