"""`faceveil serve`: the studio (web UI + REST API) on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from faceveil.cli.common import app, fail

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# uvicorn limits: idle keep-alive connections close after 5 s, at most 100 connections at once
# (then 503), and request headers up to 16 KiB that must arrive within 10 s (the protocol of
# faceveil.server.serving). Request bodies that stall get 408 from the app
# (FACEVEIL_BODY_TIMEOUT), which uvicorn itself does not time out.
UVICORN_LIMITS: dict[str, Any] = {
    "timeout_keep_alive": 5,
    "limit_concurrency": 100,
    "h11_max_incomplete_event_size": 16 * 1024,
}


@app.command("serve")
def serve_cmd(
    host: Annotated[
        str, typer.Option(help="Address to bind; only this machine by default.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Database, uploads, results and models (default $FACEVEIL_DATA_DIR or "
            "~/.local/share/faceveil).",
        ),
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run jobs in this process.")
    ] = False,
) -> None:
    """Start the studio: web UI at http://HOST:PORT/, API at /api/v1 (docs at /docs)."""
    if not 0 < port < 65536:
        fail(f"--port must be in 1..65535, got {port}", 2)
    import uvicorn  # the server stack loads on use only

    from faceveil.server.app import create_app
    from faceveil.server.serving import HeadTimeoutH11Protocol
    from faceveil.server.settings import Settings

    overrides: dict = {"run_worker": not no_worker}
    if data_dir is not None:
        overrides["data_dir"] = data_dir.expanduser().resolve()
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:  # a FACEVEIL_* variable that is not a number
        fail(str(exc), 2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if host not in LOCAL_HOSTS and not settings.api_token:
        typer.echo(
            f"faceveil: warning: serving on {host} without FACEVEIL_API_TOKEN: anyone who can "
            "reach this address can use the studio (browsers that reach it by a name need "
            "FACEVEIL_ALLOWED_HOSTS=name)",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"faceveil studio on http://{shown}:{port}/ (data in {settings.data_dir})")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        http=HeadTimeoutH11Protocol,
        **UVICORN_LIMITS,
    )
