"""Overlap I/O and compute: run an iterator or a consumer in a background thread.

Decoding and encoding happen in ffmpeg processes; pipe reads and writes release the GIL, so
a thread on each side keeps both processes busy while the detector runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 8) -> Generator[T, None, None]:
    """Iterate `items` in a background thread, `depth` items ahead; errors are re-raised."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)
            return
        q.put(_DONE)

    thread = threading.Thread(target=produce, daemon=True, name="faceveil-prefetch")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


class BackgroundSink(Generic[T]):
    """Call `consume(item)` for each `put(item)` in a background thread, in order.

    `close()` waits for the queue to drain and re-raises the first error of `consume`.
    """

    def __init__(self, consume: Callable[[T], None], depth: int = 8):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abandoned = False
        self._consume = consume
        self._thread = threading.Thread(target=self._run, daemon=True, name="faceveil-sink")
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if self._error is None and not self._abandoned:
                try:
                    self._consume(item)
                except BaseException as exc:
                    self._error = exc

    def put(self, item: T) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(item)

    def close(self, quiet: bool = False) -> None:
        """Wait for the queue to drain; then raise `consume`'s first error. `quiet`: the caller
        is failing already; what is still queued is dropped and no error is raised."""
        if quiet:
            self._abandoned = True
        self._q.put(_DONE)
        self._thread.join()
        if self._error is not None and not quiet:
            raise self._error
