"""`faceveil analyze`: age, gender, expression and face mesh of every face in an image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.analysis.attributes import analyze
from faceveil.cli.common import app, fail


@app.command("analyze")
def analyze_cmd(
    image: Annotated[Path, typer.Argument(help="An image file.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON, with the 468 mesh points per face.")
    ] = False,
    thresh: Annotated[float, typer.Option("--thresh", help="Detector score threshold.")] = 0.6,
    mesh: Annotated[
        bool, typer.Option("--mesh/--no-mesh", help="Fit the 468-point face mesh.")
    ] = True,
) -> None:
    """Estimate age, gender and expression of every face in an image (models run offline)."""
    if not 0 < thresh <= 1:
        fail(f"--thresh must be in (0, 1], got {thresh}", 2)
    results = analyze(image, threshold=thresh, mesh=mesh)
    if as_json:
        typer.echo(json.dumps({"faces": [r.to_dict() for r in results]}))
        return
    typer.echo(f"{len(results)} face(s) in {image}")
    if results:
        typer.echo("  #  box (x, y, w, h)        age  gender          emotion")
    for i, r in enumerate(results):
        x, y, w, h = r.face.box
        box = f"({x:.0f}, {y:.0f}, {w:.0f}, {h:.0f})"
        typer.echo(
            f"{i:>3}  {box:<22} {r.age:>4.0f}  {r.gender:<6} {r.gender_prob:>4.0%}   "
            f"{r.emotion} {r.emotions[r.emotion]:.0%}"
        )
