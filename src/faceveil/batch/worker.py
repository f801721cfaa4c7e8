"""What runs on a Dask worker: one chunk of files, one manifest row per file.

Each file goes through the same functions as ``faceveil anonymize`` (the runner's
``process_file``), so a cluster's outputs equal a single
process's byte for byte. The models are per-process caches (``functools.lru_cache``):
a worker process loads them once, and :class:`WarmUp` loads the detector when the worker
starts, before its first chunk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.runner import process_file

HASH_BLOCK = 1 << 20


def is_url(path: str) -> bool:
    return "://" in str(path) and not str(path).startswith("file://")


def _fs(path: str):
    import fsspec.core

    return fsspec.core.url_to_fs(path)


def file_hash(path: str) -> tuple[int, str]:
    """(size, sha256 hex) of a local path or fsspec URL, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    if is_url(path):
        fs, p = _fs(path)
        opener = fs.open(p, "rb")
    else:
        opener = open(path, "rb")  # noqa: SIM115  (closed by the with below)
    with opener as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _one_line(exc: BaseException, src: str, local: Path | None = None) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if local is not None:  # name the URL, not its temporary copy
        message = message.replace(str(local), src)
    return message if src in message else f"{src}: {message}"


@contextlib.contextmanager
def _staged(src: str, dst: str) -> Iterator[tuple[Path, Path, Callable[[], None]]]:
    """Local paths for a pair: fsspec URLs are downloaded once to a temporary folder (then
    hashed and decoded from there), and the output is uploaded by the returned publish() as
    one PUT of the whole file, which object stores (s3, gcs, azure) make visible atomically."""
    if not (is_url(src) or is_url(dst)):
        yield Path(src), Path(dst), lambda: None
        return
    with tempfile.TemporaryDirectory(prefix="faceveil-batch-") as tmp:
        local_src, local_dst = Path(src), Path(dst)
        if is_url(src):
            local_src = Path(tmp) / ("in" + Path(src).suffix)
            fs_in, p_in = _fs(src)
            fs_in.get_file(p_in, str(local_src))
        if is_url(dst):
            local_dst = Path(tmp) / ("out" + Path(dst).suffix)

        def publish() -> None:
            if is_url(dst):
                fs_out, p_out = _fs(dst)
                fs_out.makedirs(os.path.dirname(p_out), exist_ok=True)
                fs_out.put_file(str(local_dst), p_out)

        yield local_src, local_dst, publish


def _already_done(dst: str, prior: dict, size: int, digest: str) -> bool:
    """--resume: the input is unchanged and the output is there with the recorded hash."""
    if prior.get("output") != dst or prior.get("input_hash") != digest:
        return False
    if prior.get("input_size") != size:
        return False
    try:
        return file_hash(dst)[1] == prior.get("output_hash")
    except (OSError, FileNotFoundError):
        return False


def process_one(src: str, dst: str, options: AnonymizeOptions, prior: dict | None = None) -> dict:
    """Anonymise one file and return its manifest row; never raises for a bad file."""
    from faceveil.errors import FaceveilError

    start = time.perf_counter()
    row: dict = {"input": src, "output": dst, "method": options.method, "worker": _worker_name()}
    local_src = None
    try:
        with _staged(src, dst) as (local_src, local_dst, publish):
            row["input_size"], row["input_hash"] = file_hash(str(local_src))
            if prior and _already_done(dst, prior, row["input_size"], row["input_hash"]):
                row.update(status="skipped", output_hash=prior["output_hash"],
                           faces=prior.get("faces"))  # fmt: skip
            else:
                report = process_file(local_src, local_dst, options)
                row["output_hash"] = file_hash(str(local_dst))[1]
                publish()
                row.update(faces=report.face_count, status="ok")
    except (FaceveilError, OSError, ValueError) as exc:
        row["status"] = f"failed: {_one_line(exc, src, local_src)}"
    except Exception as exc:  # a bug on one file must not sink the other files of the chunk
        row["status"] = f"failed: {src}: internal error {type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - start
    row["finished"] = time.time()
    return row


def process_chunk(
    items: list[tuple[str, str, dict | None]], options: AnonymizeOptions
) -> list[dict]:
    """The Dask task: (input, output, prior ok row or None) for each file of the chunk."""
    return [process_one(src, dst, options, prior) for src, dst, prior in items]


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def warm_up() -> None:
    """Load the detector now, so the first chunk does not pay for it."""
    from faceveil.models.yunet import get_yunet

    get_yunet()


def detector_loads() -> int:
    """How many times this process has built the detector (1 once warm)."""
    from faceveil.models.yunet import yunet_loads

    return yunet_loads()


def make_plugin():
    """A Dask WorkerPlugin that warms each worker process up when it starts."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WarmUp(WorkerPlugin):
        name = "faceveil-warm-up"

        def setup(self, worker) -> None:
            warm_up()

    return WarmUp()
