"""`faceveil audit`: what an anonymised image, folder or video still gives away."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.audit import audit
from faceveil.audit.html import render_html
from faceveil.audit.metrics import check_recognizers
from faceveil.cli.common import app, fail, write_json
from faceveil.errors import FaceveilError
from faceveil.io.atomic import atomic_output


@app.command("audit")
def audit_cmd(
    original: Annotated[Path, typer.Argument(help="Original image, folder or video.")],
    anonymized: Annotated[Path, typer.Argument(help="Its anonymised counterpart.")],
    json_report: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON.")
    ] = None,
    html_report: Annotated[
        Path | None, typer.Option("--html", help="Write a self-contained HTML report.")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="SFace cosine at or above which a face is re-identified.")
    ] = SFACE_THRESHOLD,
    frames: Annotated[int, typer.Option(help="Frames sampled from a video pair.")] = 10,
    attributes: Annotated[
        bool, typer.Option("--attributes/--no-attributes", help="Compare age, gender, emotion.")
    ] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    recognizers: Annotated[
        str,
        typer.Option(
            help="Comma-separated recognizers that try to re-identify: sface, dlib "
            "(dlib's ResNet, independent of SFace; distance below 0.6 = re-identified)."
        ),
    ] = "sface",
) -> None:
    """Measure what an anonymised copy still gives away: re-identification, detectability,
    landmark drift, attribute agreement and background fidelity."""
    if not -1 <= threshold <= 1:
        fail(f"--threshold must be a cosine in [-1, 1], got {threshold}", 2)
    if frames < 1:
        fail(f"--frames must be at least 1, got {frames}", 2)
    try:
        names = check_recognizers(recognizers.split(","))
    except FaceveilError as exc:
        fail(f"--recognizers: {exc}", 2)
    if "dlib" in names:
        from faceveil.models.dlib_face import available

        if (reason := available()) is not None:
            fail(reason, 1)
    report = audit(
        original,
        anonymized,
        threshold=threshold,
        attributes=attributes,
        frames=frames,
        previews=html_report is not None,
        progress=not quiet,
        recognizers=names,
    )
    if json_report is not None:
        write_json(json_report, report.to_dict())
    if html_report is not None:
        with atomic_output(html_report) as tmp:
            tmp.write_text(render_html(report), encoding="utf-8")
    summary = report.summary()
    if json_report is None:
        typer.echo(json.dumps(summary, indent=2))
    for item in report.items:
        if not item.faces:
            typer.echo(f"faceveil: note: no face found in {item.original}", err=True)
    for failure in report.failures:
        typer.echo(f"faceveil: not audited: {failure}", err=True)
    if report.failures:
        raise typer.Exit(1)
