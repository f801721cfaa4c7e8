"""Command-line flags derived from the option declarations in :mod:`faceveil.anonymize.options`.

``@with_options("cli")`` adds one typer option per declared field to a command and hands the
command a checked :class:`AnonymizeOptions` as ``options``; nothing here names a field.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from faceveil.anonymize.options import AnonymizeOptions, Option, fields_for
from faceveil.cli.common import fail

# What a field's declared type is on the command line.
_CLI_TYPES: dict[str, Any] = {
    "str": str,
    "str | None": str | None,
    "float": float,
    "int": int,
    "int | None": int | None,
    "bool": bool,
    "bool | None": bool | None,
    "tuple[int, int, int]": str,  # a colour: R,G,B or #RRGGBB, parsed by AnonymizeOptions
    "str | Path | np.ndarray | None": Path | None,
    "str | Path | None": Path | None,
}


def _flags(name: str, spec: Option) -> tuple[str, ...]:
    return spec.flags or ("--" + name.replace("_", "-"),)


def _help(spec: Option) -> str:
    choices = spec.choice_list()
    return f"{spec.help} One of: {', '.join(choices)}." if choices else spec.help


def _default(f: dataclasses.Field) -> Any:
    return ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default


def option_parameters(surface: str) -> list[inspect.Parameter]:
    """One keyword parameter, annotated for typer, per option the surface offers."""
    params = []
    for f, spec in fields_for(surface):
        kind = _CLI_TYPES[str(f.type)]
        option = typer.Option(*_flags(f.name, spec), help=_help(spec))
        annotation = Annotated[kind, option]  # type: ignore[valid-type]  # built at run time
        params.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=_default(f), annotation=annotation
            )
        )
    return params


def with_options(surface: str):
    """Decorate a command ``fn(..., options: AnonymizeOptions)`` so that typer sees the
    surface's option flags in place of `options`; bad values exit 2 with one line."""

    def wrap(fn):
        own = inspect.signature(fn, eval_str=True)
        kept = [p for name, p in own.parameters.items() if name != "options"]
        derived = option_parameters(surface)
        names = [p.name for p in derived]

        @functools.wraps(fn)
        def command(**kwargs):
            values = {name: kwargs.pop(name) for name in names}
            for f, spec in fields_for(surface):
                _check_path(_flags(f.name, spec)[0], values[f.name], spec.path)
            try:
                options = AnonymizeOptions(**values)
            except ValueError as exc:
                fail(str(exc), 2)
            return fn(options=options, **kwargs)

        positional = [p for p in kept if p.default is inspect.Parameter.empty]
        rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in kept if p not in positional]
        params = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in positional]
        command.__signature__ = inspect.Signature(params + rest + derived)
        command.__annotations__ = {p.name: p.annotation for p in params + rest + derived}
        return command

    return wrap


def _check_path(flag: str, value: Any, kind: str | None) -> None:
    if kind is None or value is None:
        return
    if kind == "folder" and not Path(value).is_dir():
        fail(f"{flag} {value}: no such folder", 2)
    if kind == "file" and not Path(value).is_file():
        fail(f"{flag} {value}: no such file", 2)
