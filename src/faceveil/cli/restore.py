"""`faceveil restore`: find what covers each face and fill it with a plausible generated face."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.cli.common import app, fail

SUFFIX = "_restored"


@app.command("restore")
def restore_cmd(
    image: Annotated[Path, typer.Argument(help="A photo with covered faces.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Where to write (default IMAGE_restored.EXT)."),
    ] = None,
    steps: Annotated[
        Path | None,
        typer.Option(
            "--steps",
            help="Write the four steps here: generated face, smoothed face, covering mask, result.",
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="Generator name, or auto (chosen by the visible face).")
    ] = "auto",
    smooth_k: Annotated[
        int | None,
        typer.Option("--smooth-k", help="k-means colour smoothing of the generated face (K >= 2)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="The same seed gives the same fill.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output file.")
    ] = False,
) -> None:
    """Fill what covers each face (a mask, a scarf, sunglasses, a hand) with generated face
    content that fits the visible part. The filled region is a plausible guess, not the
    person's real face; nothing outside the covering changes."""
    from faceveil.io.images import IMAGE_EXTENSIONS, write_image
    from faceveil.restore import restore, write_steps

    if smooth_k is not None and smooth_k < 2:
        fail(f"--smooth-k must be at least 2, got {smooth_k}", 2)
    if not image.is_file():
        fail(f"{image}: no such file", 1)
    out = output or image.with_name(image.stem + SUFFIX + image.suffix)
    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        fail(f"{out}: the output must be an image ({', '.join(sorted(IMAGE_EXTENSIONS))})", 2)
    if out.resolve() == image.resolve():
        fail(f"{out}: refusing to overwrite the input", 2)
    if out.exists() and not overwrite:
        fail(f"{out} exists (use --overwrite to replace it)", 2)
    try:
        done = restore(image, model=model, smooth_k=smooth_k, seed=seed)
    except ValueError as exc:  # bad options or degenerate faces, in one line
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(message if str(image) in message else f"{image}: {message}", 1)
    write_image(out, done.image)  # atomic; no metadata copied
    report = {"input": str(image), "output": str(out), **done.report}
    if steps is not None:
        report["steps"] = [str(p) for p in write_steps(done.steps, steps)]
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    faces = done.report["faces"]
    typer.echo(f"{image} -> {out}: {done.report['filled']} of {len(faces)} face(s) filled")
    for i, face in enumerate(faces):
        if face.get("model"):
            typer.echo(
                f"  face {i}: {face['hole_pixels']} px covered, filled by {face['model']} "
                f"({face.get('why', '')})"
            )
        else:
            typer.echo(f"  face {i}: left as it is ({face.get('why', 'nothing covers it')})")
    typer.echo(f"note: {done.report['note']}")
    if steps is not None:
        typer.echo(f"steps written to {steps}/")
