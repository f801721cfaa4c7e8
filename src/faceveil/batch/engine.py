"""Anonymise a tree of files on a Dask cluster, chunk by chunk, with a resumable manifest.

The engine is Dask distributed: ``scheduler="local"`` starts a ``LocalCluster`` of worker
processes on this machine; an address (``tcp://host:8786``) submits to an existing cluster,
whose workers must see INPUT and OUTPUT at the same paths (a shared filesystem) or as fsspec
URLs. The driver plans the (input, output) pairs, keeps a bounded number of chunks in flight
(``as_completed``), and writes each completed chunk's rows to the manifest before counting it
done, so a killed run loses at most the chunks in flight.
"""

from __future__ import annotations

import logging
import os
import posixpath
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.state import Cancelled
from faceveil.batch.manifest import ManifestWriter, latest_ok, read_manifest
from faceveil.batch.worker import is_url, make_plugin, process_chunk
from faceveil.errors import InputError, OutputError
from faceveil.io.atomic import sweep_stale_temp
from faceveil.io.walk import hidden, unsupported

log = logging.getLogger(__name__)
MANIFEST_NAME = "_faceveil_manifest.parquet"
LOCAL_ORIGIN_KEY = "distributed.scheduler.dashboard.bokeh-application.allow_websocket_origin"
SPAWN_ENV_KEY = "distributed.nanny.pre-spawn-environ"
# A quiet LocalCluster: no stack-sampling profiler, a slower event-loop tick (idle CPU). The
# dashboard's profile page stays empty; everything else works.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
}
Pair = tuple[str, str]


@dataclass
class BatchSummary:
    files: int = 0
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    faces: int = 0
    seconds: float = 0.0
    workers: int = 0
    failures: list[str] = field(default_factory=list)  # "failed: reason" of each
    passed_over: list[str] = field(default_factory=list)  # "path (reason)": not media, etc.
    dashboard: str | None = None
    manifest: str | None = None

    @property
    def throughput(self) -> float:
        """Files per second over the whole run (skipped files included)."""
        return self.files / self.seconds if self.seconds > 0 else 0.0

    def add(self, row: dict) -> None:
        self.files += 1
        status = row.get("status", "")
        if status == "ok":
            self.ok += 1
            self.faces += int(row.get("faces") or 0)
        elif status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(status.removeprefix("failed: "))

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "ok": self.ok,
            "skipped": self.skipped,
            "failed": self.failed,
            "faces": self.faces,
            "seconds": round(self.seconds, 3),
            "files_per_second": round(self.throughput, 3),
            "workers": self.workers,
            "failures": self.failures,
            "passed_over": self.passed_over,
            "manifest": self.manifest,
        }


# ---------------------------------------------------------------------- planning
def _local(path: str | Path) -> str:
    text = str(path)
    return text[len("file://") :] if text.startswith("file://") else text


def plan_pairs(
    source: str | Path, output: str | Path, passed_over: list[str] | None = None
) -> list[Pair]:
    """(input, output) for every image or video under `source`, mirrored under `output`.

    Local paths use the runner's planning (the files ``faceveil anonymize`` would take);
    fsspec URLs are listed with ``fs.find``. Refuses a missing input and an output inside the
    input (it would be read back as input on the next run). Files the walk passes over
    (other formats, dangling links) are appended to `passed_over` as "path (reason)".
    """
    passed_over = passed_over if passed_over is not None else []
    source, output = _local(source), _local(output)
    if is_url(source) or is_url(output):
        return _plan_urls(source, output, passed_over)
    from faceveil.anonymize.runner import plan

    src, dst = Path(source).resolve(), Path(output).resolve()
    if not src.exists():
        raise InputError(f"{source}: no such file or folder")
    if src.is_dir() and (dst == src or src in dst.parents):
        raise OutputError(f"{output}: the output must not be inside the input folder")
    if src.is_file() and dst == src:
        raise OutputError(f"{output}: the output would overwrite the input")
    if src.is_dir() and dst.is_file():
        raise OutputError(f"{output}: is a file; a folder input needs an output folder")
    skipped: list = []
    pairs = [(str(a), str(b)) for a, b in plan([src], dst, skipped)]
    passed_over += [f"{s.path} ({s.reason})" for s in skipped]
    return pairs


def _plan_urls(source: str, output: str, passed_over: list[str] | None = None) -> list[Pair]:
    import fsspec.core

    from faceveil.anonymize.runner import MEDIA_EXTENSIONS

    passed_over = passed_over if passed_over is not None else []

    fs, root = fsspec.core.url_to_fs(source)
    if not fs.exists(root):
        raise InputError(f"{source}: no such file or folder")
    out_root = output.rstrip("/")
    if not fs.isdir(root):
        return [(source, output)]
    src_root = source.rstrip("/")
    if out_root == src_root or out_root.startswith(src_root + "/"):
        raise OutputError(f"{output}: the output must not be inside the input folder")
    pairs = []
    root = root.rstrip("/")
    for path in sorted(fs.find(root)):
        rel = posixpath.relpath(path, root)
        name = posixpath.basename(rel)
        if hidden(name):  # as a local walk does
            continue
        why = unsupported(name, MEDIA_EXTENSIONS)
        if why:
            passed_over.append(f"{src_root}/{rel} ({why})")
            continue
        pairs.append((f"{src_root}/{rel}", f"{out_root}/{rel}"))
    return pairs


def default_manifest(output: str | Path, pairs: list[Pair] | None = None) -> Path:
    """``OUTPUT/_faceveil_manifest.parquet`` (beside the output file for a single file)."""
    out = _local(output)
    if is_url(out):
        raise OutputError("an fsspec OUTPUT needs --manifest on a local path")
    out_path = Path(out)
    single = pairs is not None and len(pairs) == 1 and Path(pairs[0][1]) == out_path.resolve()
    return (out_path.parent if single else out_path) / MANIFEST_NAME


# ---------------------------------------------------------------------- cluster
def dashboard_available() -> bool:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def open_client(scheduler: str = "local", workers: int | None = None) -> Iterator:
    """A Dask client: a LocalCluster of `workers` processes (one thread each), or an address.

    The local cluster binds to 127.0.0.1 only; its dashboard is on a free local port when
    bokeh is installed. Every worker runs :class:`WarmUp` (the detector loads at start-up).
    """
    from distributed import Client, LocalCluster

    # Dask's own chatter (and shutdown races in the workers' heartbeats) stays out of the
    # CLI's output; FACEVEIL_LOG=info shows it. Failed files are in the manifest either way.
    quiet = logging.CRITICAL
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        for name in ("distributed", "bokeh", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    else:
        quiet = logging.getLogger().getEffectiveLevel()
    if scheduler == "local":
        import dask

        n = workers or os.cpu_count() or 1
        # The dashboard answers only pages opened as this machine, not any Host header.
        port = _free_port() if dashboard_available() else None
        origins = {LOCAL_ORIGIN_KEY: [f"127.0.0.1:{port}", f"localhost:{port}"]}
        # Dask's workers default to MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's
        # adaptive thresholds: every image-sized buffer is then mapped and unmapped again,
        # tripling the system time per image (docs/benchmarks.md, Batch on Dask).
        environ = dict(dask.config.get(SPAWN_ENV_KEY, {}))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        with dask.config.set({**origins, **QUIET_CLUSTER, SPAWN_ENV_KEY: environ}):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=f"127.0.0.1:{port}" if port else None,
                silence_logs=quiet,
            )
        try:
            with Client(cluster) as client:
                client.register_plugin(make_plugin())
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    try:
        client.register_plugin(make_plugin())
        client.wait_for_workers(workers or 1, timeout=120)
        yield client
    finally:
        client.close()


def _dashboard(client) -> str | None:
    """The dashboard URL, or None when the scheduler serves none (no bokeh)."""
    try:
        return client.dashboard_link or None
    except (KeyError, OSError):
        return None


def _n_workers(client) -> int:
    return len(client.nthreads())


# ---------------------------------------------------------------------- running
def run_pairs(
    client,
    pairs: list[Pair],
    options: AnonymizeOptions,
    *,
    chunk_size: int = 32,
    prior: dict[str, dict] | None = None,
    writer: ManifestWriter | None = None,
    on_rows: Callable[[list[dict]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BatchSummary:
    """Run `pairs` on `client` in chunks; `on_rows` sees each chunk's rows once recorded.

    `prior` maps an input to its last ``ok`` manifest row (``--resume``): the worker skips
    the file when its input hash and its output's hash still match. At most two chunks per
    worker thread are in flight, so the scheduler's memory stays flat for millions of files.
    """
    from distributed import as_completed

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    prior = prior or {}
    chunks = (
        [(s, d, prior.get(s)) for s, d in pairs[i : i + chunk_size]]
        for i in range(0, len(pairs), chunk_size)
    )  # built as they are submitted
    summary = BatchSummary(workers=_n_workers(client), dashboard=_dashboard(client))
    start = time.perf_counter()
    in_flight = max(2 * sum(client.nthreads().values()), 2)  # two per worker thread
    todo = enumerate(chunks)
    index: dict = {}

    def submit(pool) -> None:
        nxt = next(todo, None)
        if nxt is not None:
            n, items = nxt
            fut = client.submit(process_chunk, items, options, pure=False, retries=1)
            index[fut.key] = (n, items)
            pool.add(fut)

    pool = as_completed([])
    for _ in range(in_flight):
        submit(pool)
    try:
        for fut in pool:
            n, items = index.pop(fut.key)
            try:
                rows = fut.result()
            except Exception as exc:  # the worker died (KilledWorker) or could not run it
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                rows = [
                    {"input": s, "output": d, "method": options.method,
                     "status": f"failed: {s}: worker lost ({reason})"}
                    for s, d, _ in items
                ]  # fmt: skip
            fut.release()
            if writer is not None:
                writer.write(rows, n)
            for row in rows:
                summary.add(row)
            if on_rows is not None:
                on_rows(rows)
            if should_stop is not None and should_stop():
                raise Cancelled("stopped by request")
            submit(pool)
    finally:
        for fut in list(pool.futures):
            fut.cancel()
        summary.seconds = time.perf_counter() - start
    return summary


def run_batch(
    source: str | Path,
    output: str | Path,
    options: AnonymizeOptions | None = None,
    *,
    scheduler: str = "local",
    workers: int | None = None,
    chunk_size: int = 32,
    resume: bool = False,
    manifest: str | Path | None = None,
    client=None,
    on_start: Callable[[int, BatchSummary], None] | None = None,
    on_rows: Callable[[list[dict]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BatchSummary:
    """Plan, then anonymise every file under `source` into `output` on Dask.

    Without `resume`, an existing non-empty manifest is refused (its rows would be mixed with
    the new run's). `on_start(total, summary)` is called once the cluster is up, with the
    dashboard link in ``summary.dashboard``.
    """
    options = options or AnonymizeOptions()
    passed_over: list[str] = []
    pairs = plan_pairs(source, output, passed_over)
    if not pairs:
        raise InputError(f"{source}: no images or videos found")
    manifest_path = Path(manifest) if manifest else default_manifest(output, pairs)
    try:
        rows = read_manifest(manifest_path)
        writer = None if rows and not resume else ManifestWriter(manifest_path)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{manifest_path}: cannot use as a manifest ({exc})") from None
    if writer is None:
        raise OutputError(
            f"{manifest_path}: a manifest exists already; pass --resume to continue that run "
            "or remove it"
        )
    prior = latest_ok(rows) if resume else {}
    for folder in {Path(d).parent for _, d in pairs if not is_url(d)}:
        sweep_stale_temp(folder)  # what a killed run's workers left half-written

    def go(c) -> BatchSummary:
        if on_start is not None:
            on_start(len(pairs), BatchSummary(workers=_n_workers(c), dashboard=_dashboard(c)))
        summary = run_pairs(
            c,
            pairs,
            options,
            chunk_size=chunk_size,
            prior=prior,
            writer=writer,
            on_rows=on_rows,
            should_stop=should_stop,
        )
        writer.compact()
        summary.manifest = str(manifest_path)
        summary.passed_over = passed_over
        return summary

    if client is not None:
        return go(client)
    with open_client(scheduler, workers) as c:
        return go(c)
