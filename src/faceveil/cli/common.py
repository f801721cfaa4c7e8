"""What every command shares: the Typer app, errors with exit codes, JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import typer

from faceveil.io.atomic import atomic_output

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Detect, anonymise, analyse and audit faces in photos, folders and video. Runs offline.",
)


def fail(message: str, code: int) -> NoReturn:
    """Print one line to stderr and exit: 1 for failed input, 2 for usage errors."""
    typer.echo(f"faceveil: error: {message}", err=True)
    raise typer.Exit(code)


def write_json(path: Path, data: dict) -> None:
    """Write a JSON report atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
