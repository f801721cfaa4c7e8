"""`faceveil anonymize` and `faceveil detect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.anonymize import AnonymizeOptions, anonymize_paths
from faceveil.anonymize.detections import find_faces
from faceveil.cli.common import app, fail, print_skipped, write_json
from faceveil.cli.options import with_options


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


def _print_file(rep) -> None:
    extra = f", {rep.frame_count} frames" if rep.kind == "video" else ""
    typer.echo(f"{rep.output}  ({rep.face_count} faces{extra}, {rep.seconds:.2f} s)")
    for note in rep.warnings:
        typer.echo(f"  note: {note}", err=True)
    for d in rep.details:
        typer.echo(f"  face at {tuple(round(v) for v in d['box'])}: {_describe(d)}")
    for k in rep.kept:
        typer.echo(
            f"  kept {k['name']} at {tuple(round(v) for v in k['box'])}: SFace {k['similarity']}"
        )


def _print_failures(batch) -> None:
    typer.echo(f"faceveil: {len(batch.failed)} of {len(batch.files)} inputs failed:", err=True)
    for rep in batch.failed:
        typer.echo(f"  {rep.error}", err=True)


@app.command("anonymize")
@with_options("cli")
def anonymize_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="Images, videos or folders (recursive).")],
    options: AnonymizeOptions,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Output file for one input (its extension picks the format), else a folder. "
            "Default: NAME_anonymized.EXT beside each input, DIR_anonymized/ for folders.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Allow writing over an input file.")
    ] = False,
    json_report: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Write a JSON report: faces, boxes, method and seconds per input."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Anonymise every face in the inputs."""
    batch = anonymize_paths(
        inputs, output, options=options, overwrite=overwrite, progress=not quiet
    )
    for rep in batch.files:
        if rep.status == "ok":
            _print_file(rep)
    if batch.skipped:
        print_skipped([f"{s.input} ({s.reason})" for s in batch.skipped])
    if json_report is not None:
        write_json(json_report, batch.to_dict())
    if not batch.files:
        fail("no images or videos found in the inputs", 1)
    if batch.failed:
        _print_failures(batch)
        raise typer.Exit(1)


@app.command("detect")
@with_options("detect")
def detect_cmd(
    inputs: Annotated[list[Path], typer.Argument(help="Images, videos or folders (recursive).")],
    options: AnonymizeOptions,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Write every face (per frame and track for video) as a box file, which "
            "anonymize --boxes reads back; - prints it.",
        ),
    ] = None,
) -> None:
    """Find the faces in images, videos and folders, and which detector pass found each."""
    found = find_faces(inputs, options)
    for failure in found.failed:
        typer.echo(f"faceveil: error: {failure['error']}", err=True)
    if found.files and json_out is not None:
        if str(json_out) == "-":
            typer.echo(json.dumps(found.to_dict()))
        else:
            write_json(json_out, found.to_dict())
    elif found.files:
        for entry in found.files:
            _print_entry(entry)
    if found.failed:
        raise typer.Exit(1)


def _print_entry(entry: dict) -> None:
    if entry["kind"] == "video":
        tracks = {f.get("track_id") for frame in entry["frames"] for f in frame["faces"]}
        typer.echo(f"{len(tracks)} track(s) over {entry['frame_count']} frames in {entry['input']}")
        return
    typer.echo(f"{len(entry['faces'])} face(s) in {entry['input']}")
    for i, f in enumerate(entry["faces"]):
        x, y, w, h = f["box"]
        typer.echo(
            f"  {i}: box=({x:.0f}, {y:.0f}, {w:.0f}, {h:.0f}) score={f['score']:.3f} "
            f"found by {f['found_by']}"
        )
