"""`faceveil prepare`, `train`, `evaluate-generator` and `models`: generators of your own faces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.cli.common import app, fail, write_json
from faceveil.gen.choices import ARCH_NAMES, RESOLUTIONS

Quiet = typer.Option("--quiet", "-q", help="No progress bar.")


def _tags(pairs: list[str] | None, option: str = "--tag") -> dict[str, str]:
    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{option} takes key=value, got {pair!r}", 2)
        tags[key.strip()] = value.strip()
    return tags


@app.command("prepare")
def prepare_cmd(
    raw_dir: Annotated[Path, typer.Argument(help="Folder of photos (searched recursively).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Dataset folder to create.")],
    size: Annotated[int, typer.Option(help="Side of the face crops in px.")] = 64,
    padding: Annotated[
        float, typer.Option(help="Margin on each side, as a fraction of the face size.")
    ] = 0.1,
    thresh: Annotated[float, typer.Option(help="Minimum detector score of a face.")] = 0.8,
    min_face: Annotated[
        float, typer.Option(help="Leave out faces smaller than this (px): they train blur.")
    ] = 32,
    all_faces: Annotated[
        bool,
        typer.Option("--all-faces/--largest", help="One crop per face, or the largest only."),
    ] = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Write into a dataset folder that holds files.")
    ] = False,
    report: Annotated[Path | None, typer.Option("--json", help="Write a JSON report here.")] = None,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Detect, level, crop and describe every face in a folder of photos, for `train`.

    The crops are new PNGs (no EXIF or GPS); DATASET/manifest.jsonl gives each crop's source,
    box, score, age, gender and emotion. Exits 1 if no photo gave a crop.
    """
    from faceveil.gen.prepare import prepare_dataset

    if not 8 <= size <= 1024:
        fail(f"--size must be in [8, 1024], got {size}", 2)
    if not 0 <= padding <= 2:
        fail(f"--padding must be in [0, 2], got {padding}", 2)
    if not 0 < thresh <= 1:
        fail(f"--thresh must be in (0, 1], got {thresh}", 2)
    result = prepare_dataset(
        raw_dir,
        output,
        size=size,
        padding=padding,
        threshold=thresh,
        min_face=min_face,
        all_faces=all_faces,
        overwrite=overwrite,
        progress=not quiet,
    )
    if report:
        write_json(report, result.to_dict())
    for source, reason in result.skipped:
        typer.echo(f"skipped {source}: {reason}", err=True)
    if not result.crops:
        fail(f"no face crops from the {result.images} images in {raw_dir}", 1)
    typer.echo(
        f"{len(result.crops)} face crops from {result.images - len(result.skipped)} of "
        f"{result.images} images -> {output}/ ({len(result.skipped)} skipped)"
    )


@app.command("train")
def train_cmd(
    dataset_dir: Annotated[
        Path,
        typer.Argument(help="Dataset folder (from `prepare`)."),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model folder.")],
    arch: Annotated[
        str | None,
        typer.Option(help="dcgan or vae (default dcgan)."),
    ] = None,
    res: Annotated[int | None, typer.Option(help="32, 64 or 128 px (default 64).")] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Total epochs, resumed ones included (default 25).")
    ] = None,
    batch: Annotated[int | None, typer.Option(help="Batch size (default 64).")] = None,
    lr: Annotated[
        float | None, typer.Option(help="Adam learning rate (default dcgan 2e-4, vae 1e-3).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of all randomness (default 0).")] = None,
    latent_dim: Annotated[int | None, typer.Option(help="Latent size (default 100).")] = None,
    width: Annotated[int | None, typer.Option(help="Network width ngf/ndf (default 64).")] = None,
    kl_beta: Annotated[float | None, typer.Option(help="VAE: KL weight (default 1).")] = None,
    name: Annotated[
        str | None, typer.Option(help="Registry name (default the model folder's name).")
    ] = None,
    licence: Annotated[
        str | None, typer.Option(help="Licence of the weights, i.e. of your training images.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="key=value metadata, e.g. skin_tone=dark; repeatable.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from MODEL/checkpoint.pt.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start again in a folder that holds a model.")
    ] = False,
    encoder_steps: Annotated[
        int, typer.Option(help="Also train an inversion encoder for this many steps.")
    ] = 0,
    template_samples: Annotated[
        int, typer.Option(help="Samples used to measure the landmark template.")
    ] = 512,
    quiet: Annotated[bool, Quiet] = False,
) -> None:
    """Train a DCGAN or VAE face generator; checkpoints, samples and loss curves every epoch.

    A finished generator is registered: `faceveil generate --model NAME` uses it.
    """
    from faceveil.gen.train import train

    if arch is not None and arch not in ARCH_NAMES:
        fail(f"--arch must be one of {', '.join(ARCH_NAMES)}, got {arch!r}", 2)
    if res is not None and res not in RESOLUTIONS:
        fail(f"--res must be one of {', '.join(map(str, RESOLUTIONS))}, got {res}", 2)
    for option, value in (("--epochs", epochs), ("--batch", batch), ("--width", width)):
        if value is not None and value < 1:
            fail(f"{option} must be at least 1, got {value}", 2)
    if resume and overwrite:
        fail("--resume and --overwrite exclude each other", 2)
    if encoder_steps < 0 or template_samples < 1:
        fail("--encoder-steps must be >= 0 and --template-samples >= 1", 2)
    result = train(
        dataset_dir,
        output,
        resume=resume,
        overwrite=overwrite,
        progress=not quiet,
        template_samples=template_samples,
        encoder_steps=encoder_steps,
        arch=arch,
        res=res,
        epochs=epochs if epochs is not None or resume else 25,
        batch=batch,
        lr=lr,
        seed=seed,
        latent_dim=latent_dim,
        width=width,
        kl_beta=kl_beta,
        name=name,
        licence=licence,
        tags=_tags(tag) or None,
    )
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    ran = [e["seconds"] for e in result.log[-result.epochs_run :]] if result.epochs_run else []
    speed = f", {sum(ran) / len(ran):.1f} s per epoch" if ran else ""
    info = result.info
    typer.echo(
        f"{info.name}: {info.arch} at {info.resolution} px, {len(result.log)} epoch(s){speed} "
        f"-> {output}/ (use it with: faceveil generate --model {info.name})"
    )


@app.command("evaluate-generator")
def evaluate_cmd(
    model: Annotated[str, typer.Argument(help="Generator name or model folder.")],
    n: Annotated[int, typer.Option("--n", "-n", help="Samples to draw.")] = 500,
    reference: Annotated[
        str, typer.Option(help="'orl' (400 AT&T/ORL faces) or a dataset folder of face crops.")
    ] = "orl",
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Detection rate, Fréchet distance of identity embeddings to real faces, and diversity."""
    from faceveil.gen.evaluate import evaluate_generator

    if n < 2:
        fail(f"--n must be at least 2, got {n}", 2)
    if reference != "orl" and not Path(reference).is_dir():
        fail(f"--reference must be 'orl' or a dataset folder, got {reference!r}", 2)
    m = evaluate_generator(model, n=n, reference=reference, seed=seed)
    if as_json:
        typer.echo(json.dumps(m.to_dict()))
        return

    def num(v: float | None) -> str:
        return "n/a (too few faces detected)" if v is None else f"{v:.3f}"

    typer.echo(f"{m.generator}: {m.n} samples; reference {m.reference} ({m.n_reference} faces)")
    typer.echo(f"  detection rate     {m.detection_rate:.1%}")
    typer.echo(
        f"  Fréchet distance   {num(m.frechet_distance)} "
        f"(two halves of the reference: {m.reference_floor:.3f})"
    )
    typer.echo(f"  diversity          {num(m.diversity)} (reference: {m.reference_diversity:.3f})")


@app.command("models")
def models_cmd(
    tag: Annotated[
        list[str] | None, typer.Option(help="Only models whose metadata has key=value.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the generators faceveil can use: built in, in the model home, or registered."""
    from faceveil.gen.registry import list_generators

    infos = list_generators(**_tags(tag))
    if as_json:
        typer.echo(json.dumps([{**i.to_dict(), "path": i.path} for i in infos], indent=2))
        return
    for info in infos:
        typer.echo(f"{info.name}  ({info.arch}, {info.resolution} px, z={info.latent_dim})")
        typer.echo(f"  training data: {info.training_data}")
        typer.echo(f"  licence:       {info.licence}")
        tags = ", ".join(f"{k}={v}" for k, v in info.tags.items()) or "-"
        typer.echo(f"  tags:          {tags}")
        typer.echo(f"  path:          {info.path}")
    if not infos:
        typer.echo("no generators match", err=True)
