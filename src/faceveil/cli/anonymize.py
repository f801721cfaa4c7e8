"""`faceveil anonymize` and `faceveil detect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.anonymize import METHODS, AnonymizeOptions, anonymize_paths
from faceveil.anonymize.regions import SHAPES
from faceveil.cli.common import app, fail, write_json
from faceveil.detect import detect


def _parse_color(text: str) -> tuple[int, int, int]:
    t = text.strip().lstrip("#")
    try:
        if "," in t:
            parts = tuple(int(p) for p in t.split(","))
        elif len(t) == 6:
            parts = tuple(int(t[i : i + 2], 16) for i in (0, 2, 4))
        else:
            raise ValueError
    except ValueError:
        raise typer.BadParameter("use R,G,B (0-255) or #RRGGBB") from None
    if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
        raise typer.BadParameter("use R,G,B (0-255) or #RRGGBB")
    return parts  # type: ignore[return-value]


def _describe(detail: dict) -> str:
    """One line of what a reporting method (attributes, cloak) did to a face."""
    if "dssim" in detail:  # cloak
        line = (
            f"cloak {detail['budget']}: SFace {detail['similarity_after']}, "
            f"DSSIM {detail['dssim']}, max change {detail['linf']}, {detail['seconds']} s"
        )
        return f"{line}; WARNING {detail['warning']}" if "warning" in detail else line
    b, a = detail.get("before", {}), detail.get("after", {})
    seen = ", ".join(f"{k} {b[k]} -> {a[k]}" for k in b if k in a)
    changed = ", ".join(detail.get("changed", [])) or "nothing visible"
    return (
        f"{seen}; changed: {changed}; edit x{detail.get('strength', 1):g}, "
        f"SFace {detail.get('identity_similarity')}"
    )


Method = typer.Option("--method", "-m", help=f"One of: {', '.join(METHODS)}.")


@app.command("anonymize")
def anonymize_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="Images, videos or folders (recursive).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file for one input (its extension picks the format), else a folder. "
            "Default: NAME_anonymized.EXT beside each input, DIR_anonymized/ for folders.",
        ),
    ] = None,
    method: Annotated[str, Method] = "blur",
    shape: Annotated[str, typer.Option(help=f"Region shape: {', '.join(SHAPES)}.")] = "ellipse",
    mask_scale: Annotated[float, typer.Option(help="Enlargement of the face box.")] = 1.3,
    thresh: Annotated[float, typer.Option("--thresh", help="Detector score threshold.")] = 0.6,
    max_side: Annotated[
        int | None,
        typer.Option(
            help="Longest side the detector's main pass sees (0: full resolution). "
            "Default: 1280 for images, 640 for video."
        ),
    ] = None,
    small_faces: Annotated[
        bool | None,
        typer.Option(
            "--small-faces/--no-small-faces",
            help="Also search for 10-20 px faces with a tiled 2x pass. "
            "Default: on for images, off for video.",
        ),
    ] = None,
    blur_strength: Annotated[float, typer.Option(help="Multiplies the blur sigma.")] = 1.0,
    pixel_blocks: Annotated[int, typer.Option(help="Mosaic blocks across a face.")] = 8,
    color: Annotated[str, typer.Option(help="Fill colour for solid: R,G,B or #RRGGBB.")] = "0,0,0",
    replace_image: Annotated[
        Path | None,
        typer.Option(help="Image pasted by --method image (default: a built-in emoji)."),
    ] = None,
    keep_metadata: Annotated[
        bool,
        typer.Option(
            "--keep-metadata", help="Keep EXIF/GPS and other metadata (stripped by default)."
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Allow writing over an input file.")
    ] = False,
    json_report: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write a JSON report: faces, boxes, method and seconds per input."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic identities (synth).")] = 0,
    edit: Annotated[
        str | None,
        typer.Option(help="Attribute edits of --method attributes, e.g. age=+2,gender=flip."),
    ] = None,
    k: Annotated[
        int, typer.Option("--k", help="ksame: average of the k nearest gallery identities.")
    ] = 5,
    gallery: Annotated[
        Path | None,
        typer.Option(help="ksame: folder of face photos (default: a synthetic gallery)."),
    ] = None,
    budget: Annotated[
        str, typer.Option(help="cloak: perceptual budget, low | mid | high | max.")
    ] = "mid",
    target: Annotated[
        str, typer.Option(help="cloak: decoy (toward a synthetic identity) or away.")
    ] = "decoy",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Anonymise every face in the inputs."""
    try:
        options = AnonymizeOptions(
            method=method,
            shape=shape,
            mask_scale=mask_scale,
            threshold=thresh,
            max_side=max_side,
            small_faces=small_faces,
            blur_strength=blur_strength,
            pixel_blocks=pixel_blocks,
            color=_parse_color(color),
            replace_image=replace_image,
            keep_metadata=keep_metadata,
            seed=seed,
            edit=edit,
            k=k,
            gallery=gallery,
            budget=budget,
            target=target,
        )
    except (ValueError, typer.BadParameter) as exc:
        fail(str(exc), 2)
    if replace_image is not None and not replace_image.is_file():
        fail(f"--replace-image {replace_image}: no such file", 2)
    if gallery is not None and not gallery.is_dir():
        fail(f"--gallery {gallery}: no such folder", 2)
    batch = anonymize_paths(
        inputs, output, options=options, overwrite=overwrite, progress=not quiet
    )
    for rep in batch.files:
        if rep.status == "ok":
            extra = f", {rep.frame_count} frames" if rep.kind == "video" else ""
            typer.echo(f"{rep.output}  ({rep.face_count} faces{extra}, {rep.seconds:.2f} s)")
            for note in rep.warnings:
                typer.echo(f"  note: {note}", err=True)
            for d in rep.details:
                typer.echo(f"  face at {tuple(round(v) for v in d['box'])}: {_describe(d)}")
    if json_report is not None:
        write_json(json_report, batch.to_dict())
    if not batch.files:
        fail("no images or videos found in the inputs", 1)
    if batch.failed:
        typer.echo(f"faceveil: {len(batch.failed)} of {len(batch.files)} inputs failed:", err=True)
        for rep in batch.failed:
            typer.echo(f"  {rep.error}", err=True)
        raise typer.Exit(1)


@app.command("detect")
def detect_cmd(
    image: Annotated[Path, typer.Argument(help="An image file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    thresh: Annotated[float, typer.Option("--thresh", help="Detector score threshold.")] = 0.6,
    max_side: Annotated[
        int, typer.Option(help="Longest side the detector's main pass sees (0: full resolution).")
    ] = 1280,
    small_faces: Annotated[
        bool,
        typer.Option("--small-faces/--no-small-faces", help="Tiled 2x pass for 10-20 px faces."),
    ] = True,
) -> None:
    """Print the faces found in an image."""
    if not 0 < thresh <= 1:
        fail(f"--thresh must be in (0, 1], got {thresh}", 2)
    faces = detect(image, threshold=thresh, max_side=max_side or None, small_faces=small_faces)
    if as_json:
        typer.echo(json.dumps({"faces": [f.to_dict() for f in faces]}))
        return
    typer.echo(f"{len(faces)} face(s) in {image}")
    for i, f in enumerate(faces):
        x, y, w, h = f.box
        typer.echo(f"  {i}: box=({x:.0f}, {y:.0f}, {w:.0f}, {h:.0f}) score={f.score:.3f}")
