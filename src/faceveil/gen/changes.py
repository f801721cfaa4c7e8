"""Parsing latent edits written as ``"age=+2,smile=-1"`` (torch-free, for the command line)."""

from __future__ import annotations

import math


def parse_changes(text: str, words: tuple[str, ...] = ()) -> dict[str, float | str]:
    """``"age=+2,smile=-1"`` -> ``{"age": 2.0, "smile": -1.0}``; ValueError on bad syntax.

    An amount may also be one of `words` (say ``"flip"``), kept as the lower-case string.
    """
    changes: dict[str, float | str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"expected NAME=AMOUNT, got {part!r}")
        if value.strip().lower() in words:
            changes[name] = value.strip().lower()
            continue
        try:
            amount = float(value)
        except ValueError:
            also = "".join(f" or {w}" for w in words)
            raise ValueError(f"amount of {name!r} is not a number{also}: {value!r}") from None
        if not math.isfinite(amount):
            raise ValueError(f"amount of {name!r} must be finite, got {value!r}")
        changes[name] = amount
    if not changes:
        raise ValueError("nothing to change; expected NAME=AMOUNT[,NAME=AMOUNT...]")
    return changes
