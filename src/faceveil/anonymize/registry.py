"""The method registry: a new method is one module plus one ``@register`` line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# fn(roi, face_in_roi, options) -> roi-shaped array of the same dtype. A method registered with
# reports=True is also given ``info=dict`` to fill with what it did to the face, and one
# registered with stateful=True ``run=RunState``: where it keeps what a video track reuses, and
# whose ``check()`` a long method polls to stop early.
MethodFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Method:
    name: str
    fn: MethodFn
    description: str
    composited: bool = True  # False: the method draws on the image itself (``none``)
    reports: bool = False  # True: fn also takes info=dict, which ends up in the report
    stateful: bool = False  # True: fn also takes run=RunState (track memory, stop check)
    validate: Callable[[Any], object] | None = None  # options -> ignored, raising ValueError


METHODS: dict[str, Method] = {}
FALLBACK_METHOD = "blur"


class Fallback(Exception):  # noqa: N818  (a signal, not an error: the face is still covered)
    """Raised by a method that cannot handle a face; the face gets FALLBACK_METHOD instead."""


def register(
    name: str,
    description: str,
    *,
    composited: bool = True,
    reports: bool = False,
    stateful: bool = False,
    validate: Callable[[Any], object] | None = None,  # raises on bad options; result unused
):
    def wrap(fn: MethodFn) -> MethodFn:
        if name in METHODS:
            raise ValueError(f"method {name!r} is already registered")
        METHODS[name] = Method(name, fn, description, composited, reports, stateful, validate)
        return fn

    return wrap


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
