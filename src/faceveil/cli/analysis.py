"""`faceveil verify` and `faceveil gallery add|search|list|remove`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from faceveil.analysis.gallery import Gallery
from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.analysis.verify import verify
from faceveil.cli.common import app, fail


def _box(box) -> str:
    x, y, w, h = box
    return f"({x:.0f}, {y:.0f}, {w:.0f}, {h:.0f})"


def _check_threshold(threshold: float) -> None:
    if not -1.0 <= threshold <= 1.0:
        fail(f"--threshold is a cosine similarity in [-1, 1], got {threshold}", 2)


Threshold = typer.Option(
    "--threshold",
    help=f"Cosine similarity at or above which faces are the same person "
    f"(default {SFACE_THRESHOLD}, calibrated on the ORL faces).",
)


@app.command("verify")
def verify_cmd(
    image_a: Annotated[Path, typer.Argument(help="First image.")],
    image_b: Annotated[Path, typer.Argument(help="Second image.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    all_pairs: Annotated[
        bool,
        typer.Option(
            "--all-pairs",
            help="Compare every face of A with every face of B (default: the largest of each).",
        ),
    ] = False,
    threshold: Annotated[float, Threshold] = SFACE_THRESHOLD,
) -> None:
    """Tell whether two images show the same person. Exits 0 either way."""
    _check_threshold(threshold)
    result = verify(image_a, image_b, all_pairs=all_pairs, threshold=threshold)
    if as_json:
        data: dict = {
            "similarity": round(result.similarity, 4),
            "threshold": result.threshold,
            "same_person": result.same_person,
        }
        if all_pairs:
            data["pairs"] = [p.to_dict() for p in result.pairs]
        typer.echo(json.dumps(data))
        return
    verdict = "same person" if result.same_person else "different people"
    sign = ">=" if result.same_person else "<"
    typer.echo(f"{verdict}: similarity {result.similarity:.3f} {sign} {result.threshold:.3f}")
    if all_pairs:
        typer.echo(f"{result.faces_a} face(s) in A, {result.faces_b} in B, most similar first:")
        for p in result.pairs:
            mark = "same" if p.same_person else "diff"
            typer.echo(
                f"  A{p.a} {_box(p.box_a)} vs B{p.b} {_box(p.box_b)}: {p.similarity:.3f} {mark}"
            )


# ------------------------------------------------------------------------------ gallery

gallery_app = typer.Typer(
    no_args_is_help=True,
    help="1:N search: enrol named faces in a local SQLite gallery and search it by image.",
)
app.add_typer(gallery_app, name="gallery")

Db = typer.Option(
    "--db",
    envvar="FACEVEIL_GALLERY",
    help="Gallery file. Default: ~/.local/share/faceveil/gallery.sqlite3 "
    "($XDG_DATA_HOME/faceveil/ when XDG_DATA_HOME is set).",
)


@gallery_app.command("add")
def gallery_add(
    name: Annotated[str, typer.Argument(help="The person's name.")],
    images: Annotated[list[Path], typer.Argument(help="Images; the largest face of each.")],
    skip_missing: Annotated[
        bool,
        typer.Option(
            "--skip-missing",
            help="Skip images without a face (default: enrol nothing and fail).",
        ),
    ] = False,
    db: Annotated[Path | None, Db] = None,
) -> None:
    """Enrol the largest face of each image under NAME."""
    gallery = Gallery(db)
    added = gallery.add(name, images, skip_missing=skip_missing)
    skipped = len(images) - added
    extra = f", {skipped} image(s) skipped" if skipped else ""
    typer.echo(f"enrolled {added} face(s) as {name.strip()!r} in {gallery.path}{extra}")


@gallery_app.command("search")
def gallery_search(
    image: Annotated[Path, typer.Argument(help="Query image; its largest face is searched.")],
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Names to list.")] = 5,
    threshold: Annotated[float, Threshold] = SFACE_THRESHOLD,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Annotated[Path | None, Db] = None,
) -> None:
    """The enrolled people most similar to the face in IMAGE."""
    _check_threshold(threshold)
    gallery = Gallery(db)
    matches = gallery.search(image, top_k=top_k, threshold=threshold)
    if as_json:
        typer.echo(json.dumps({"threshold": threshold, "matches": [m.to_dict() for m in matches]}))
        return
    if not matches:
        typer.echo(f"the gallery {gallery.path} is empty")
        return
    for rank, m in enumerate(matches, 1):
        mark = "  <- same person" if m.same_person else ""
        typer.echo(f"{rank}. {m.name}  {m.similarity:.3f}  (face {m.id}){mark}")


@gallery_app.command("list")
def gallery_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Annotated[Path | None, Db] = None,
) -> None:
    """Enrolled names and how many faces each has."""
    gallery = Gallery(db)
    names = gallery.list()
    if as_json:
        typer.echo(json.dumps({"names": names}))
        return
    if not names:
        typer.echo(f"the gallery {gallery.path} is empty")
        return
    width = max(len(n["name"]) for n in names)
    for n in names:
        typer.echo(f"{n['name']:<{width}}  {n['count']}")


@gallery_app.command("remove")
def gallery_remove(
    name: Annotated[str, typer.Argument(help="The name to delete, with all its faces.")],
    db: Annotated[Path | None, Db] = None,
) -> None:
    """Delete every face enrolled under NAME."""
    gallery = Gallery(db)
    removed = gallery.remove(name)
    if not removed:
        fail(f"no faces enrolled as {name.strip()!r} in {gallery.path}", 1)
    typer.echo(f"removed {removed} face(s) of {name.strip()!r} from {gallery.path}")
