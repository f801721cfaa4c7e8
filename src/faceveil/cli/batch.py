"""`faceveil batch`: a folder (or fsspec URL) anonymised on a Dask cluster, resumable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from faceveil.anonymize import AnonymizeOptions
from faceveil.cli.common import app, fail, print_skipped
from faceveil.cli.options import with_options
from faceveil.errors import FaceveilError

if TYPE_CHECKING:
    from tqdm import tqdm

SHOWN_FAILURES = 20


@app.command("batch")
@with_options("batch")
def batch_cmd(
    source: Annotated[str, typer.Argument(help="Folder or file; local path or fsspec URL.")],
    options: AnonymizeOptions,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output folder: the input tree is mirrored.")
    ],
    scheduler: Annotated[
        str,
        typer.Option(
            help="'local' starts a LocalCluster of worker processes on this machine; an "
            "address (tcp://host:8786) uses a running Dask cluster."
        ),
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes of the local cluster (default: one per core); with an "
            "address, wait for this many workers."
        ),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Files per task; a kill loses at most the chunks in flight.")
    ] = 32,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Skip files the manifest has as ok whose output still matches."
        ),
    ] = False,
    manifest: Annotated[
        str | None,
        typer.Option(
            help="Manifest path: a folder of Parquet parts, or a .jsonl file. "
            "Default: OUTPUT/_faceveil_manifest.parquet."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Anonymise a dataset on Dask: resumable, with a per-file manifest."""
    from faceveil.batch import run_batch

    _check_cluster_flags(scheduler, workers, chunk_size)
    progress = _Progress(scheduler, quiet)
    try:
        summary = run_batch(
            source,
            output,
            options,
            scheduler=scheduler,
            workers=workers,
            chunk_size=chunk_size,
            resume=resume,
            manifest=manifest,
            on_start=progress.start,
            on_rows=progress.rows,
        )
    except FaceveilError as exc:
        fail(str(exc).splitlines()[0], 1)
    finally:
        progress.close()
    _print_summary(summary)


def _check_cluster_flags(scheduler: str, workers: int | None, chunk_size: int) -> None:
    if chunk_size < 1:
        fail(f"--chunk-size must be at least 1, got {chunk_size}", 2)
    if workers is not None and workers < 1:
        fail(f"--workers must be at least 1, got {workers}", 2)
    if scheduler != "local" and "://" not in scheduler:
        fail(f"--scheduler must be 'local' or an address like tcp://host:8786, not {scheduler}", 2)


class _Progress:
    """The start lines and the progress bar of one batch run."""

    def __init__(self, scheduler: str, quiet: bool) -> None:
        self.scheduler, self.quiet = scheduler, quiet
        self.bar: tqdm | None = None

    def start(self, total: int, info) -> None:
        from tqdm import tqdm

        where = "local cluster" if self.scheduler == "local" else self.scheduler
        typer.echo(f"faceveil batch: {total} files on {info.workers} workers ({where})", err=True)
        if info.dashboard:
            typer.echo(f"faceveil batch: Dask dashboard {info.dashboard}", err=True)
        self.bar = tqdm(total=total, unit="file", disable=self.quiet, desc="faceveil batch")

    def rows(self, rows: list[dict]) -> None:
        if self.bar is not None:
            self.bar.update(len(rows))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_summary(summary) -> None:
    if summary.passed_over:
        print_skipped(summary.passed_over)
    typer.echo(
        f"faceveil batch: {summary.files} files ({summary.ok} ok, {summary.skipped} skipped, "
        f"{summary.failed} failed), {summary.faces} faces, {summary.seconds:.1f} s, "
        f"{summary.throughput:.2f} files/s on {summary.workers} workers; "
        f"manifest {summary.manifest}"
    )
    if not summary.failed:
        return
    typer.echo(f"faceveil: {summary.failed} of {summary.files} inputs failed:", err=True)
    for reason in summary.failures[:SHOWN_FAILURES]:
        typer.echo(f"  {reason}", err=True)
    if summary.failed > SHOWN_FAILURES:
        typer.echo(f"  ... and {summary.failed - SHOWN_FAILURES} more (see the manifest)", err=True)
    raise typer.Exit(1)
