"""Work stops when asked: between the faces of one image (a client that hung up), and a server
request stops its library call when its client disconnects."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import faceveil
from faceveil.anonymize.state import Cancelled
from faceveil.server.limits import run_heavy


def test_anonymize_stops_before_a_face_when_asked(astronaut):
    with pytest.raises(Cancelled, match="between faces"):
        faceveil.anonymize(astronaut, "blur", should_stop=lambda: True)
    out, report = faceveil.anonymize(astronaut, "blur", should_stop=lambda: False)
    assert report.face_count == 1 and not np.array_equal(out, astronaut)


class _Request:
    """What run_heavy reads of a request; the client hangs up after `gone_after` looks."""

    def __init__(self, gone_after: int):
        self.looks = 0
        self.gone_after = gone_after
        self.method, self.url = "POST", SimpleNamespace(path="/api/v1/anonymize")
        settings = SimpleNamespace(max_heavy_requests=2)
        self.app = SimpleNamespace(state=SimpleNamespace(settings=settings))

    async def is_disconnected(self) -> bool:
        self.looks += 1
        return self.looks > self.gone_after


def test_a_request_whose_client_hangs_up_stops_its_work():
    stop = threading.Event()

    def work():  # stands for a long cloak: checks between faces, 10 s in all
        for _ in range(100):
            if stop.is_set():
                raise Cancelled("stopped between faces")
            time.sleep(0.1)
        return "finished"

    start = time.perf_counter()
    answer = asyncio.run(run_heavy(_Request(gone_after=2), work, stop))
    assert stop.is_set() and getattr(answer, "status_code", None) == 400
    assert time.perf_counter() - start < 5


def test_a_request_whose_client_stays_gets_its_answer():
    stop = threading.Event()
    answer = asyncio.run(run_heavy(_Request(gone_after=10**6), lambda: "done", stop))
    assert answer == "done" and not stop.is_set()


def test_a_cloak_stops_within_its_optimisation(astronaut):
    """One face's cloak takes seconds: a stop asked meanwhile ends it at the next step."""
    calls = []

    def stop_after_a_few() -> bool:
        calls.append(1)
        return len(calls) > 3  # the check before the face, then two steps

    with pytest.raises(Cancelled, match="during a cloak"):
        faceveil.anonymize(astronaut, "cloak", should_stop=stop_after_a_few)
    assert len(calls) == 4  # stopped at the third step of up to 40, not after the face
