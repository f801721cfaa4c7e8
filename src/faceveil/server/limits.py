"""Bounds on heavy work: how many image and model requests run at once, and none for a client
that has already hung up.

A saturated studio answers 503 with ``Retry-After`` at once instead of queueing work it cannot
keep up with; each slot is one thread of decoding and model inference.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from faceveil.server.errors import ApiError

log = logging.getLogger("faceveil.server")
RETRY_AFTER_S = 5
WATCH_S = 0.5  # how often a running request looks for a client that hung up


class HeavyGate:
    """At most `limit` holders at once (0: no limit); one more gets 503 with Retry-After."""

    def __init__(self, limit: int):
        self.limit = max(int(limit), 0)
        self._slots = threading.BoundedSemaphore(self.limit) if self.limit else None

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self._slots is None:
            yield
            return
        if not self._slots.acquire(blocking=False):  # never waits: the event loop stays free
            raise ApiError(
                503,
                f"server busy: {self.limit} image requests are running; retry in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            yield
        finally:
            self._slots.release()


def gate(request: Request) -> HeavyGate:
    found = getattr(request.app.state, "heavy", None)
    if found is None:
        found = request.app.state.heavy = HeavyGate(request.app.state.settings.max_heavy_requests)
    return found


async def run_heavy(
    request: Request, work: Callable[[], Any], stop: threading.Event | None = None
) -> Any:
    """Run `work` in the threadpool under the app's :class:`HeavyGate`, unless the client has
    gone already (then nothing runs and one line is logged). While it runs, a client that hangs
    up sets `stop`, which `work` passes to the library as ``should_stop=stop.is_set``; the
    library then stops at its next check (between faces) with ``Cancelled``."""
    from faceveil.anonymize.state import Cancelled

    if await request.is_disconnected():
        log.warning("client gone before %s %s started: skipped", request.method, request.url.path)
        return Response(status_code=400)
    with gate(request).slot():
        task = asyncio.ensure_future(run_in_threadpool(work))
        while stop is not None and not task.done():
            await asyncio.wait({task}, timeout=WATCH_S)
            if not task.done() and await request.is_disconnected():
                log.warning("client gone during %s %s: stopping", request.method, request.url.path)
                stop.set()
                break
        try:
            return await task
        except Cancelled:
            return Response(status_code=400)


def client_gone_sync(request: Request) -> bool:
    """From a sync route's worker thread: True (and one log line) once the client has hung up,
    so a long loop can stop between items."""
    from anyio import from_thread

    try:
        gone = from_thread.run(request.is_disconnected)
    except RuntimeError:  # not on an anyio worker thread: nothing to ask
        return False
    if gone:
        log.warning("client gone during %s %s: stopped", request.method, request.url.path)
    return gone
