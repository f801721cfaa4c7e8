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


def print_skipped(entries: list[str], shown: int = 10) -> None:
    """One line naming the files a folder walk passed over ("path (reason)"), the first
    `shown` of them."""
    names = "; ".join(entries[:shown])
    more = f"; and {len(entries) - shown} more" if len(entries) > shown else ""
    noun = "file" if len(entries) == 1 else "files"
    typer.echo(f"faceveil: skipped {len(entries)} {noun}: {names}{more}", err=True)


def write_json(path: Path, data: dict) -> None:
    """Write a JSON report atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
