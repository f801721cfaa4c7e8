"""`faceveil invert` and `faceveil mix`: a photo's face in a generator's latent space, and the
faces between two photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from faceveil.cli.common import app, fail
from faceveil.gen.choices import INVERT_METHODS as METHODS
from faceveil.gen.upsample import grid, upsample
from faceveil.io.images import IMAGE_EXTENSIONS, write_image

Model = typer.Option(help="Generator name or model directory (see `faceveil models`).")
Size = typer.Option(help="Side of each output face in px (upsampled from the generator's).")
Method = typer.Option(help="auto (encoder start, then optimisation), encoder, or optimize.")
Steps = typer.Option(help="Optimisation steps per face (fewer: faster, rougher).")
Restarts = typer.Option(help="Starts optimised at once; the best wins.")
Seed = typer.Option(help="Seed of the random starts.")


def _check(output: Path, inputs: list[Path], size: int, method: str, steps: int, restarts: int):
    """Usage errors, before any slow work."""
    if output.suffix.lower() not in IMAGE_EXTENSIONS:
        fail(f"-o must end in one of {', '.join(IMAGE_EXTENSIONS)}, got {output.name!r}", 2)
    if any(p.exists() and output.exists() and output.samefile(p) for p in inputs):
        fail(f"{output} is an input; refusing to overwrite it", 2)
    if not 8 <= size <= 4096:
        fail(f"--size must be in [8, 4096], got {size}", 2)
    if method not in METHODS:
        fail(f"--method must be one of {', '.join(METHODS)}, got {method!r}", 2)
    if steps < 0 or restarts < 1:
        fail(f"--steps must be >= 0 and --restarts >= 1, got {steps} and {restarts}", 2)


def _quality(result) -> str:
    sim = result.identity_similarity
    who = "no face found" if sim is None else f"SFace {sim:.2f}"
    if result.same_person:
        who += " (same person)"
    return f"SSIM {result.ssim:.2f}, {who}, {result.seconds:.1f} s"


@app.command("invert")
def invert_cmd(
    image: Annotated[Path, typer.Argument(help="Photo; its largest face is inverted.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Reconstruction image.")],
    model: Annotated[str | None, Model] = None,
    size: Annotated[int, Size] = 256,
    method: Annotated[str, Method] = "auto",
    steps: Annotated[int, Steps] = 200,
    restarts: Annotated[int, Restarts] = 4,
    seed: Annotated[int, Seed] = 0,
    compare: Annotated[
        bool, typer.Option("--compare", help="Write the aligned face and its reconstruction.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result (quality, latent z) as JSON.")
    ] = False,
) -> None:
    """Find the latent of a photo's face and write the face the generator draws from it."""
    _check(output, [image], size, method, steps, restarts)
    from faceveil.gen.invert import invert  # torch: load on use
    from faceveil.gen.registry import get_generator

    generator = get_generator(model)
    result = invert(generator, image, method=method, steps=steps, restarts=restarts, seed=seed)
    faces = [result.target, result.reconstruction] if compare else [result.reconstruction]
    write_image(output, grid(upsample(np.stack(faces), size), columns=len(faces)))
    if as_json:
        typer.echo(json.dumps({"input": str(image), "output": str(output), **result.to_dict()}))
    else:
        typer.echo(f"{image}: {result.method}, {_quality(result)} -> {output}")


@app.command("mix")
def mix_cmd(
    image_a: Annotated[Path, typer.Argument(help="First photo (alpha 0).")],
    image_b: Annotated[Path, typer.Argument(help="Second photo (alpha 1).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output image.")],
    alpha: Annotated[
        float | None, typer.Option(help="One face, this far from A (0) to B (1); default 0.5.")
    ] = None,
    strip: Annotated[
        int | None, typer.Option(help="Instead: this many faces from A to B, left to right.")
    ] = None,
    model: Annotated[str | None, Model] = None,
    size: Annotated[int, Size] = 256,
    method: Annotated[str, Method] = "auto",
    steps: Annotated[int, Steps] = 200,
    restarts: Annotated[int, Restarts] = 4,
    seed: Annotated[int, Seed] = 0,
) -> None:
    """Mix the faces of two photos: invert both, then interpolate their latents (slerp)."""
    _check(output, [image_a, image_b], size, method, steps, restarts)
    if alpha is not None and strip is not None:
        fail("give --alpha or --strip, not both", 2)
    if alpha is not None and not 0 <= alpha <= 1:
        fail(f"--alpha must be in [0, 1], got {alpha}", 2)
    if strip is not None and strip < 2:
        fail(f"--strip needs at least 2 faces, got {strip}", 2)
    from faceveil.gen.invert import invert  # torch: load on use
    from faceveil.gen.mix import mix, mix_strip
    from faceveil.gen.registry import get_generator

    generator = get_generator(model)
    options: dict[str, Any] = {"method": method, "steps": steps, "restarts": restarts, "seed": seed}
    a, b = (invert(generator, image, **options) for image in (image_a, image_b))
    if strip is None:
        image = mix(generator, a, b, 0.5 if alpha is None else alpha, size=size)
        what = f"alpha {0.5 if alpha is None else alpha:g}"
    else:
        image = mix_strip(generator, a, b, strip, size=size)
        what = f"{strip} faces"
    write_image(output, image)
    typer.echo(f"{image_a}: {_quality(a)}")
    typer.echo(f"{image_b}: {_quality(b)}")
    typer.echo(f"mix ({what}) -> {output}")
