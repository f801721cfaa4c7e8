"""The job kinds: ``anonymize_video``, ``anonymize_dataset`` and ``train``. Each is a thin
layer over faceveil's library functions (anonymize_paths, anonymize, gen.prepare, gen.train)."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

from sqlalchemy import select

from faceveil.errors import InputError
from faceveil.server.models_db import Dataset, Image, ModelRecord

TRAIN_KEYS = ("arch", "res", "epochs", "batch", "lr", "seed", "latent_dim", "width", "kl_beta")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
EPOCH_TEMPLATE_SAMPLES = 8  # cheap landmark template between epochs; the last one is full


def _options(params: dict):
    """AnonymizeOptions from ``params["options"]`` (plus ``method``), checked now; the keys
    a job takes are those its option declarations allow (never a server path)."""
    from faceveil.anonymize.options import options_from

    raw = params.get("options") or {}
    if not isinstance(raw, dict):
        raise InputError("params.options must be an object")
    raw = dict(raw)
    if params.get("method"):
        raw["method"] = params["method"]
    return options_from("job", raw)


def _dataset(store, dataset_id) -> Dataset:
    from faceveil.server.dataset_ops import MAX_ID

    try:
        dataset_id = int(dataset_id)
    except (TypeError, ValueError, OverflowError):
        raise InputError("params.dataset_id must be a dataset id") from None
    if not 1 <= dataset_id <= MAX_ID:
        raise InputError(f"no dataset {dataset_id}")
    with store.session() as s:
        ds = s.get(Dataset, dataset_id)
        if ds is None:
            raise InputError(f"no dataset {dataset_id}")
        return ds


def _images(store, dataset_id: int, split: str | None = None) -> list[tuple[int, str, str]]:
    """(id, sha, filename) of a dataset's images, optionally of one split."""
    q = select(Image.id, Image.sha, Image.filename).where(Image.dataset_id == dataset_id)
    if split:
        q = q.where(Image.split == split)
    with store.session() as s:
        return [tuple(r) for r in s.execute(q.order_by(Image.id)).all()]


# ---------------------------------------------------------------------- anonymize_video
def check_video_params(params: dict) -> None:
    """What a video job's parameters say by themselves: its options."""
    _options(params)


def validate_video(store, params: dict) -> dict:
    check_video_params(params)  # the cheap check first
    sha = str(params.get("input") or "")
    if store.files.find(sha) is None:
        raise InputError("params.input must be the sha256 of an uploaded video")
    from faceveil.server.uploads import sniff

    with open(store.files.path(sha), "rb") as f:
        found = sniff(f.read(64))
    if not found or found[0] != "video":
        raise InputError("params.input is not a video")
    _check_frame_size(store.files.path(sha), store.settings.max_pixels)
    return params


def _check_frame_size(path: Path, max_pixels: int) -> None:
    """Frames over the pixel limit would cost what a decompression bomb does, every frame."""
    from faceveil.io.images import too_large_message
    from faceveil.io.video import probe_video

    info = probe_video(path)
    if max_pixels and info.width * info.height > max_pixels:
        raise InputError(too_large_message(info.width, info.height, max_pixels, "video frames"))


def run_video(ctx) -> dict:
    from faceveil.anonymize import anonymize_paths
    from faceveil.anonymize.state import Cancelled
    from faceveil.server.jobs.worker import JobCancelled

    src = ctx.store.files.path(ctx.params["input"])
    dst = ctx.result_dir / ("anonymized" + src.suffix)
    ctx.progress(1, f"anonymising {src.name}")
    shown = [1]

    def on_progress(done: int, total: int) -> None:
        percent = 1 + int(98 * done / max(total, 1))  # 1..99: 100 is set when the job is done
        if percent > shown[0]:  # one database write per percent, not per frame
            shown[0] = percent
            ctx.progress(percent)

    try:
        batch = anonymize_paths(
            [src],
            dst,
            options=_options(ctx.params),
            overwrite=True,
            progress=False,
            on_progress=on_progress,
            should_stop=ctx.should_stop,
        )
    except Cancelled:
        raise JobCancelled() from None  # stopped between frames; no output was written
    ctx.check()  # a stop asked after the last frame
    if batch.failed:
        raise InputError(batch.failed[0].error or "anonymisation failed")
    report = batch.files[0].to_dict()
    sha = ctx.store.files.put_file(dst)
    return {"file": dst.name, "sha": sha, "report": report}


# ---------------------------------------------------------------------- anonymize_dataset
def validate_dataset_job(store, params: dict) -> dict:
    from faceveil.server.dataset_ops import check_split

    ds = _dataset(store, params.get("dataset_id"))
    check_split(params.get("split"))
    _options(params)
    target = params.get("new_dataset")
    if target is not None and (
        not isinstance(target, str) or not 0 < len(target) <= 200 or "\x00" in target
    ):
        raise InputError("params.new_dataset must be a dataset name (1-200 characters)")
    if target:
        with store.session() as s:
            if s.scalars(select(Dataset).where(Dataset.name == str(target))).first():
                raise InputError(f"dataset {target!r} exists already")
    return {**params, "dataset_id": ds.id}


def _anonymize_here(ctx, items: list[tuple[int, Path, Path]], options):
    """The runner over (image_id, source, target) in this process; targets that exist (a
    resumed job) are kept. Returns (targets done, faces, failed list) like the cluster's."""
    from faceveil.anonymize.runner import run

    todo = [(src, dst) for _, src, dst in items if not dst.exists()]
    batch = run(
        todo,
        options,
        overwrite=True,
        progress=False,
        should_stop=ctx.should_stop,
        on_file=lambda done, total: ctx.progress(90 * done / max(total, 1)),
    )
    ids = {src: image_id for image_id, src, _ in items}
    failed = [
        {"image_id": ids[Path(r.input)], "error": (r.error or "").replace(r.input, "the image")}
        for r in batch.failed
    ]
    bad = {Path(r.input) for r in batch.failed}
    done = [dst for _, src, dst in items if src not in bad]
    return done, sum(r.face_count for r in batch.files if r.status == "ok"), failed


def run_dataset(ctx) -> dict:
    from faceveil.anonymize.state import Cancelled
    from faceveil.server.jobs.worker import JobCancelled

    options = _options(ctx.params)
    images = _images(ctx.store, ctx.params["dataset_id"], ctx.params.get("split"))
    out_dir = ctx.result_dir / "images"
    out_dir.mkdir(parents=True, exist_ok=True)
    items = [
        (image_id, ctx.store.files.path(sha), _target(ctx, out_dir, image_id, sha, filename))
        for image_id, sha, filename in images
    ]
    from faceveil.server.jobs.cluster import anonymize_images, scheduler_address

    anonymize_on = anonymize_images if scheduler_address() else _anonymize_here
    try:
        done_names, faces, failed = anonymize_on(ctx, items, options)
    except Cancelled:
        raise JobCancelled() from None
    archive = ctx.result_dir / "anonymized.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in done_names:
            z.write(p, p.name)
    result = {"images": len(done_names), "faces": faces, "failed": failed, "zip": archive.name}
    if ctx.params.get("new_dataset"):
        result["dataset_id"] = _import_results(ctx, done_names)
    return result


def _target(ctx, out_dir: Path, image_id: int, sha: str, filename: str) -> Path:
    return out_dir / f"{image_id:06d}_{Path(filename).stem}{ctx.store.files.path(sha).suffix}"


def _import_results(ctx, paths: list[Path]) -> int:
    from faceveil.server.dataset_ops import import_image

    with ctx.store.session() as s:
        ds = s.scalars(select(Dataset).where(Dataset.name == ctx.params["new_dataset"])).first()
        if ds is None:
            ds = Dataset(name=ctx.params["new_dataset"], description=f"job {ctx.job_id}")
            s.add(ds)
            s.flush()
        ds_id = ds.id
    for n, p in enumerate(paths):
        ctx.check()
        with ctx.store.session() as s:
            import_image(ctx.store, s, s.get(Dataset, ds_id), p.name, p.read_bytes())
        ctx.progress(90 + 10 * (n + 1) / len(paths))
    return ds_id


# ---------------------------------------------------------------------- train
def validate_train(store, params: dict) -> dict:
    from faceveil.gen.registry import model_dirs
    from faceveil.server.dataset_ops import check_split

    ds = _dataset(store, params.get("dataset_id"))
    check_split(params.get("split"))
    name = str(params.get("name") or "")
    if not MODEL_NAME.match(name):
        raise InputError("params.name: 1-64 letters, digits, '.', '_' or '-'")
    with store.session() as s:
        if s.scalars(select(ModelRecord).where(ModelRecord.name == name)).first():
            raise InputError(f"a model named {name!r} exists already")
    if name in model_dirs() or (store.models_dir / name).exists():
        raise InputError(f"a model named {name!r} exists already")
    unknown = set(params) - {
        "dataset_id", "name", "split", "prepare", "licence", "template_samples", *TRAIN_KEYS,
    }  # fmt: skip
    if unknown:
        raise InputError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
    if not _images(store, ds.id, params.get("split")):
        raise InputError(f"dataset {ds.id} has no images to train on")
    from faceveil.gen.train import TrainConfig

    try:
        TrainConfig(**{k: params[k] for k in TRAIN_KEYS if k in params}).check()
    except (TypeError, InputError) as exc:
        raise InputError(str(exc)) from None
    return {**params, "dataset_id": ds.id, "name": name}


def _training_folder(ctx, work: Path) -> Path:
    """The dataset's images as a folder faceveil.gen.train reads: face crops made by
    faceveil.gen.prepare (default), or the images themselves (``prepare: false``). Made once
    per job, so a resumed run sees the same files (the checkpoint checks that)."""
    from faceveil.gen.prepare import prepare_dataset

    ready = work / ".ready"
    raw, crops = work / "raw", work / "crops"
    if ready.exists():
        return work / ready.read_text().strip()
    shutil.rmtree(work, ignore_errors=True)
    raw.mkdir(parents=True)
    for image_id, sha, _name in _images(
        ctx.store, ctx.params["dataset_id"], ctx.params.get("split")
    ):
        src = ctx.store.files.path(sha)
        shutil.copyfile(src, raw / f"{image_id:06d}{src.suffix}")
    folder = raw
    if ctx.params.get("prepare", True):
        ctx.progress(1, "cropping faces (faceveil prepare)")
        result = prepare_dataset(raw, crops, size=int(ctx.params.get("res", 64)))
        if not result.crops:
            raise InputError("no face found to train on (try prepare: false for face crops)")
        ctx.log(f"{len(result.crops)} face crops from {result.images} images")
        folder = crops
    ready.write_text(folder.name)
    return folder


def _epochs_done(model_dir: Path) -> int:
    try:
        return len(json.loads((model_dir / "train_log.json").read_text())["epochs"])
    except (FileNotFoundError, KeyError, ValueError):
        return 0


def run_train(ctx) -> dict:
    from faceveil.gen.train import train

    name = ctx.params["name"]
    model_dir = ctx.store.models_dir / name
    folder = _training_folder(ctx, ctx.store.work_dir / str(ctx.job_id))
    options = {k: ctx.params[k] for k in TRAIN_KEYS if k in ctx.params}
    options["name"] = name
    if ctx.params.get("licence"):
        options["licence"] = str(ctx.params["licence"])
    total = int(options.get("epochs", 25))
    final_samples = int(ctx.params.get("template_samples", 256))
    done = _epochs_done(model_dir) if (model_dir / "checkpoint.pt").exists() else 0
    if done:
        ctx.log(f"resuming from the checkpoint after epoch {done}")
    result = None
    # One library call per epoch (each resumes from the last checkpoint, which gives the same
    # weights as one long run): progress and cancellation between epochs.
    for epoch in range(done + 1, total + 1):
        ctx.check()
        result = train(
            folder,
            model_dir,
            resume=(model_dir / "checkpoint.pt").exists(),
            overwrite=not (model_dir / "checkpoint.pt").exists(),
            template_samples=final_samples if epoch == total else EPOCH_TEMPLATE_SAMPLES,
            **{**options, "epochs": epoch},
        )
        losses = {k: v for k, v in result.log[-1].items() if k not in ("epoch",)}
        ctx.progress(5 + 95 * epoch / total, f"epoch {epoch}/{total}: {json.dumps(losses)}")
    if result is None:  # every epoch was done already: finish (model.json, template, register)
        result = train(folder, model_dir, resume=True, template_samples=final_samples, **options)
    info = result.info.to_dict()
    with ctx.store.session() as s:
        rec = s.scalars(select(ModelRecord).where(ModelRecord.name == name)).first()
        if rec is None:
            rec = ModelRecord(name=name, source="trained")
            s.add(rec)
        rec.path, rec.arch, rec.resolution = (
            str(model_dir.resolve()),
            info["arch"],
            info["resolution"],
        )
        rec.meta, rec.job_id = {**info, "log": result.log, "notes": result.notes}, ctx.job_id
    return {"model": name, "epochs": len(result.log), "log": result.log, "notes": result.notes}
