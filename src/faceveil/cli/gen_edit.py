"""`faceveil edit`: invert a photo's face, move it along latent directions, decode."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from faceveil.cli.common import app, fail
from faceveil.cli.gen_mix import Method, Model, Restarts, Seed, Size, Steps, _check, _quality
from faceveil.errors import InputError
from faceveil.gen.changes import parse_changes
from faceveil.gen.upsample import grid, upsample
from faceveil.io.images import write_image


@app.command("edit")
def edit_cmd(
    image: Annotated[Path, typer.Argument(help="Photo; its largest face is edited.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output image.")],
    changes: Annotated[
        str,
        typer.Option(
            "--set",
            help="Directions and amounts in z units (1 = one standard deviation of the latent "
            "distribution along the direction; +-3 is far), e.g. age=+2,smile=-1. Names: age "
            "(+ older), gender (+ more female), smile, pcN and dim_N.",
        ),
    ],
    orthogonal: Annotated[
        bool,
        typer.Option(
            "--orthogonal/--raw",
            help="Attribute directions with the other attributes projected out (default), or "
            "the raw ones.",
        ),
    ] = True,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare", help="Write the reconstruction (before) and the edit side by side."
        ),
    ] = False,
    model: Annotated[str | None, Model] = None,
    size: Annotated[int, Size] = 256,
    method: Annotated[str, Method] = "auto",
    steps: Annotated[int, Steps] = 200,
    restarts: Annotated[int, Restarts] = 4,
    seed: Annotated[int, Seed] = 0,
) -> None:
    """Edit a photo's face with the latent sliders: invert it, move it, decode it."""
    _check(output, [image], size, method, steps, restarts)
    try:
        amounts = {k: float(v) for k, v in parse_changes(changes).items()}  # all numbers
    except ValueError as exc:
        fail(f"--set: {exc}", 2)
    from faceveil.gen.directions import load_directions  # torch: load on use
    from faceveil.gen.invert import invert
    from faceveil.gen.registry import get_generator

    generator = get_generator(model)
    directions = load_directions(generator)
    try:
        for name in amounts:
            directions.vector(name)  # unknown names fail here, before the slow inversion
    except InputError as exc:
        fail(f"--set: {exc}", 2)
    result = invert(generator, image, method=method, steps=steps, restarts=restarts, seed=seed)
    moved = generator.decode(directions.edit(result.z, amounts, orthogonal))
    faces = np.stack([result.reconstruction, moved] if compare else [moved])
    write_image(output, grid(upsample(faces, size), columns=len(faces)))
    typer.echo(f"{image}: {_quality(result)}; {changes} -> {output}")
