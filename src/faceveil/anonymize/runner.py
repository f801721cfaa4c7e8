"""The runner: one image in memory, files, folders and videos, with reports.

Output naming: ``photo.jpg -> photo_anonymized.jpg``, ``DIR -> DIR_anonymized/``, or ``-o``.
Inputs are never overwritten unless ``overwrite=True``. Every write is atomic, and a batch
goes on past bad files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from faceveil.anonymize.apply import apply_to_faces
from faceveil.anonymize.consent import Consent
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.report import BatchReport, FileReport, SkippedFile
from faceveil.anonymize.state import Cancelled, RunState
from faceveil.anonymize.video import anonymize_video
from faceveil.detect import detect
from faceveil.errors import FaceveilError, InputError, OutputError, failure_line
from faceveil.faces import Face
from faceveil.io.atomic import sweep_stale_temp
from faceveil.io.boxes import BoxEntry, read_boxes
from faceveil.io.images import IMAGE_EXTENSIONS, load_image, write_image
from faceveil.io.video import VIDEO_EXTENSIONS
from faceveil.io.walk import Skipped, media_files

log = logging.getLogger(__name__)
SUFFIX = "_anonymized"
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


class Anonymized(NamedTuple):
    """Result of :func:`anonymize`: the anonymised array and its report."""

    image: np.ndarray
    report: FileReport


def _image_faces(pixels: np.ndarray, options: AnonymizeOptions) -> list[Face]:
    return detect(pixels, **options.detect_kwargs("image"))


def _consented(
    pixels: np.ndarray, faces: list[Face], options: AnonymizeOptions
) -> tuple[list[Face], list[dict]]:
    """(the faces to anonymise, reports of the consenting ones left visible)."""
    consent = Consent.from_options(options)
    return (faces, []) if consent is None or not faces else consent.split(pixels, faces)


def anonymize(
    image: str | Path | bytes | np.ndarray,
    method: str = "blur",
    *,
    faces: list[Face] | None = None,
    should_stop: Callable[[], bool] | None = None,
    **options,
) -> Anonymized:
    """Detect and anonymise every face of one image.

    Parameters
    ----------
    image : path, encoded bytes or (H, W[, C]) array; the result keeps its shape and dtype
        (files are loaded upright, with EXIF orientation applied).
    method : a name in :data:`faceveil.METHODS` (the registry, each with its description).
    faces : skip detection and anonymise these faces.
    should_stop : polled before each face; True raises
        :class:`~faceveil.anonymize.state.Cancelled` (a server whose client hung up).
    **options : any field of :class:`AnonymizeOptions` (``shape``, ``mask_scale``,
        ``threshold``, ``max_side``, ``color``, ...).

    Returns
    -------
    Anonymized(image, report)

    Examples
    --------
    >>> import numpy as np
    >>> out, report = anonymize(np.zeros((64, 64, 3), np.uint8), "pixelate")
    >>> out.shape, report.face_count
    ((64, 64, 3), 0)
    """
    opts = AnonymizeOptions.from_kwargs(method=method, **options)
    start = time.perf_counter()
    pixels = load_image(image).pixels if not isinstance(image, np.ndarray) else image
    found = _image_faces(pixels, opts) if faces is None else faces
    found, kept = _consented(pixels, found, opts)
    notes: list[str] = []
    details: list[dict] = []
    run = RunState(should_stop=should_stop)
    out = apply_to_faces(pixels, found, opts, notes, details, run=run)
    name = str(image) if isinstance(image, str | Path) else "<array>"
    report = FileReport(
        name,
        None,
        method=opts.method,
        faces=found,
        seconds=time.perf_counter() - start,
        warnings=notes,
        details=details,
        kept=kept,
    )
    return Anonymized(out, report)


def anonymize_image_file(
    src: Path, dst: Path, options: AnonymizeOptions, given: BoxEntry | None = None
) -> FileReport:
    start = time.perf_counter()
    loaded = load_image(src)
    faces = _image_faces(loaded.pixels, options) if given is None else given.faces
    faces, kept = _consented(loaded.pixels, faces, options)
    notes: list[str] = []
    details: list[dict] = []
    out = apply_to_faces(loaded.pixels, faces, options, notes, details)
    write_image(dst, out, metadata=loaded if options.keep_metadata else None)
    return FileReport(
        str(src),
        str(dst),
        method=options.method,
        faces=faces,
        seconds=time.perf_counter() - start,
        warnings=notes,
        details=details,
        kept=kept,
    )


def default_output(src: Path) -> Path:
    if src.is_dir():
        return src.with_name(src.name + SUFFIX)
    return src.with_name(src.stem + SUFFIX + src.suffix)


def _walk(folder: Path, exclude: set[Path], skipped: list[Skipped]) -> list[Path]:
    files, passed_over = media_files(folder, MEDIA_EXTENSIONS, exclude)
    skipped += passed_over
    return files


def plan(
    inputs: list[Path], output: Path | None, skipped: list[Skipped] | None = None
) -> list[tuple[Path, Path]]:
    """Pair every input file with its output path.

    One file input: `output` is the output file (or a folder when it already is one). Several
    inputs or a folder: `output` is a folder, and each file keeps its path relative to its
    folder input. Without `output`, outputs go beside the inputs with the ``_anonymized`` suffix.
    The files a folder walk passes over (other formats, dangling links) are appended to
    `skipped` when it is given.
    """
    skipped = skipped if skipped is not None else []
    if not inputs:
        raise InputError("no input given")
    single_file = len(inputs) == 1 and not inputs[0].is_dir()
    pairs: list[tuple[Path, Path]] = []
    for src in inputs:
        if src.is_dir():
            root = output if output is not None else default_output(src)
            if len(inputs) > 1 and output is not None:
                root = output / src.name
            exclude = {root.resolve()} if root.resolve() != src.resolve() else set()
            pairs += [(f, root / f.relative_to(src)) for f in _walk(src, exclude, skipped)]
        elif output is None:
            pairs.append((src, default_output(src)))
        elif single_file and not output.is_dir():
            pairs.append((src, output))
        else:
            pairs.append((src, output / src.name))
    return pairs


def _check_pair(src: Path, dst: Path, overwrite: bool) -> str:
    """The kind of the input ('image' or 'video'); raises for an unsafe or unknown pair."""
    if not src.exists():
        raise InputError(f"{src}: no such file")
    if dst.exists() and dst.resolve() == src.resolve() and not overwrite:
        raise OutputError(f"{src}: output would overwrite the input; pass --overwrite to allow it")
    ext = src.suffix.lower()
    out_ext = dst.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        if out_ext not in VIDEO_EXTENSIONS:
            raise OutputError(f"{src}: a video needs a video output, not {dst.name}")
        return "video"
    if out_ext not in IMAGE_EXTENSIONS:
        raise OutputError(f"{src}: cannot write an image as {out_ext or 'no extension'}")
    return "image"


def process_file(
    src: Path,
    dst: Path,
    options: AnonymizeOptions,
    *,
    overwrite: bool = False,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    given: BoxEntry | None = None,
) -> FileReport:
    """Anonymise one image or video file into `dst`, atomically; raises for a bad file.

    Every surface goes through here: the CLI, the Dask workers and the studio's jobs. A video
    gets its own :class:`~faceveil.anonymize.state.RunState`, so nothing carries over from
    one file to the next. `on_progress` and `should_stop` are used for videos. `given`: the
    file's boxes from a box file, used exactly, in place of detection.
    """
    if _check_pair(src, dst, overwrite) == "video":
        return anonymize_video(
            src,
            dst,
            options,
            progress=progress,
            on_progress=on_progress,
            should_stop=should_stop,
            given=given,
        )
    return anonymize_image_file(src, dst, options, given)


def _failed(src: Path, exc: BaseException, options: AnonymizeOptions) -> FileReport:
    log.debug("failed %s", src, exc_info=True)
    error = failure_line(src, exc)
    return FileReport(str(src), None, method=options.method, status="failed", error=error)


def run(
    pairs: list[tuple[Path, Path]],
    options: AnonymizeOptions,
    *,
    overwrite: bool = False,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_file: Callable[[int, int], None] | None = None,
    batch: BatchReport | None = None,
) -> BatchReport:
    """:func:`process_file` over (input, output) pairs; a bad file is reported, not fatal.

    `on_progress(done, total)` counts a video's frames, `on_file(done, total)` the files.
    `should_stop()` is polled before each file (and each video frame); a stop raises
    :class:`~faceveil.anonymize.state.Cancelled`, keeping the files already written.
    """
    batch = batch if batch is not None else BatchReport()
    boxes = read_boxes(options.boxes) if options.boxes is not None else None
    if boxes is not None and boxes.single and len(pairs) != 1:
        raise InputError("the box file lists one image's faces; give one input with it")
    seen: dict[Path, Path] = {}
    bar = tqdm(pairs, unit="file", disable=not progress or len(pairs) < 2, desc="faceveil")
    try:
        for done, (src, dst) in enumerate(bar, 1):
            if should_stop is not None and should_stop():
                raise Cancelled(f"stopped before {src}")
            try:
                if dst.resolve() in seen:
                    raise OutputError(f"{src}: same output name as {seen[dst.resolve()]}")
                seen[dst.resolve()] = src
                given = boxes.entry_for(src) if boxes is not None else None
                rep = process_file(
                    src,
                    dst,
                    options,
                    overwrite=overwrite,
                    progress=progress,
                    on_progress=on_progress,
                    should_stop=should_stop,
                    given=given,
                )
            except (FaceveilError, OSError, ValueError) as exc:
                rep = _failed(src, exc, options)
            batch.files.append(rep)
            if on_file is not None:
                on_file(done, len(pairs))
    finally:
        bar.close()
    return batch


def anonymize_paths(
    inputs: Sequence[str | Path],
    output: str | Path | None = None,
    *,
    options: AnonymizeOptions | None = None,
    overwrite: bool = False,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BatchReport:
    """Anonymise files, folders and videos; failed inputs are reported, never fatal.

    Returns a :class:`BatchReport`; ``report.failed`` lists the inputs that failed. The
    inputs are paired with outputs by :func:`plan`, then processed by :func:`run`.
    """
    options = options or AnonymizeOptions()
    paths = [Path(p) for p in inputs]
    batch = BatchReport()
    missing = [p for p in paths if not p.exists()]
    for p in missing:
        batch.files.append(
            FileReport(
                str(p), status="failed", method=options.method, error=f"{p}: no such file or folder"
            )
        )
    skipped: list[Skipped] = []
    pairs = (
        plan([p for p in paths if p.exists()], Path(output) if output else None, skipped)
        if len(missing) < len(paths)
        else []
    )
    batch.skipped += [SkippedFile(str(s.path), s.reason) for s in skipped]
    for folder in {dst.parent for _, dst in pairs}:  # what killed runs left there
        sweep_stale_temp(folder)
    return run(
        pairs,
        options,
        overwrite=overwrite,
        progress=progress,
        on_progress=on_progress,
        should_stop=should_stop,
        batch=batch,
    )
