"""Command-line interface: a thin layer over the library, one module per command group.

Exit codes: 0 success, 1 some input failed, 2 usage error.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import cv2
import typer

from faceveil.cli import (  # noqa: F401  (they register their commands)
    analysis,
    analyze,
    anonymize,
    audit,
    batch,
    gen_edit,
    gen_mix,
    gen_train,
    generate,
    restore,
    serve,
)
from faceveil.cli.common import app
from faceveil.errors import FaceveilError


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that cleanups (partial outputs) run."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated(128 + signum)


def _silence_opencv() -> None:
    cv_logging = getattr(cv2.utils, "logging", None)  # OpenCV 4.12+; older: cv2.setLogLevel
    if cv_logging is not None:
        cv_logging.setLogLevel(cv_logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)  # LOG_LEVEL_SILENT


def main() -> None:
    # OpenCV logs decoder complaints about corrupt files; faceveil reports them in one line.
    _silence_opencv()
    logging.basicConfig(
        level=os.environ.get("FACEVEIL_LOG", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        app()
    except Terminated as exc:
        typer.echo("faceveil: terminated", err=True)
        sys.exit(exc.code)
    except FaceveilError as exc:
        typer.echo(f"faceveil: error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("faceveil: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: one line, details on request
        if os.environ.get("FACEVEIL_DEBUG"):
            raise
        typer.echo(
            f"faceveil: internal error: {type(exc).__name__}: {exc} "
            "(set FACEVEIL_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["app", "main"]
