"""`faceveil generate`: synthetic faces from a generator, as a grid or one file per face."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceveil.cli.common import app, fail
from faceveil.gen.upsample import RESAMPLERS, grid
from faceveil.io.images import write_image


@app.command("generate")
def generate_cmd(
    n: Annotated[int, typer.Option("-n", help="Number of faces.")] = 16,
    seed: Annotated[int, typer.Option(help="Same seed, same faces.")] = 0,
    model: Annotated[
        str | None, typer.Option(help="Generator name or model directory (see `faceveil models`).")
    ] = None,
    size: Annotated[int | None, typer.Option(help="Side of each face in px.")] = None,
    truncation: Annotated[
        float, typer.Option(help="0-1: pull latents towards the mean face (less variety).")
    ] = 1.0,
    sharpen: Annotated[float, typer.Option(help="Unsharp amount after upsampling.")] = 0.5,
    resampler: Annotated[str, typer.Option(help="nearest, linear, cubic or lanczos.")] = "cubic",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write one grid image here.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Write one PNG per face into this folder.")
    ] = None,
    columns: Annotated[int | None, typer.Option(help="Grid columns (default: square).")] = None,
) -> None:
    """Generate synthetic faces (no real person) as a grid or one file per face."""
    if (output is None) == (out_dir is None):
        fail("give exactly one of -o GRID.png or --out-dir DIR", 2)
    if n < 1:
        fail(f"-n must be at least 1, got {n}", 2)
    if size is not None and not 8 <= size <= 4096:
        fail(f"--size must be in [8, 4096], got {size}", 2)
    if not 0 <= truncation <= 1:
        fail(f"--truncation must be in [0, 1], got {truncation}", 2)
    if resampler not in RESAMPLERS:
        fail(f"--resampler must be one of {', '.join(RESAMPLERS)}, got {resampler!r}", 2)
    if sharpen < 0:
        fail(f"--sharpen must be non-negative, got {sharpen}", 2)
    from faceveil.gen.synthesis import generate  # torch: load on use

    faces = generate(
        n, seed, model=model, truncation=truncation, size=size, sharpen=sharpen, resampler=resampler
    )
    if output is not None:
        write_image(output, grid(faces, columns))
        typer.echo(f"{n} faces -> {output}")
        return
    assert out_dir is not None  # exactly one of the two, checked above
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, face in enumerate(faces):
        write_image(out_dir / f"face_seed{seed}_{i:04d}.png", face)
    typer.echo(f"{n} faces -> {out_dir}/")
