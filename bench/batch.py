"""Throughput of `faceveil batch` (Dask) against a plain single-process loop.

Generates N images of composed faces (faceveil.testing scenes: astronaut, ORL and DCGAN faces
on cluttered backgrounds; 100 scenes, each in 20 variants: mirrored and with 10 brightness
offsets, so every file differs) into a temporary folder, then anonymises the folder with the
default method (blur), each configuration in its own process:

- loop: ``anonymize_image_file`` over the runner's plan, models loaded before timing;
- dask-1, dask-2: ``run_batch`` on a LocalCluster of 1 or 2 worker processes (the detector is
  loaded by the worker plugin at start-up; cluster start-up is reported apart).

Reports files/s (wall), CPU seconds per file summed over every process of the run (driver,
scheduler, nannies, workers: the engine's overhead even on a busy machine), per-worker peak
RSS (VmHWM), the load average around each run, and checks that every configuration wrote the
same bytes.

    nice -n 10 .venv/bin/python bench/batch.py            # N=2000, 640x480 (about 10 min)
    .venv/bin/python bench/batch.py --n 200 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASES = 100


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(tree: bool) -> float:
    """User + system CPU seconds of this process (and its live descendants when `tree`)."""
    import psutil

    procs = [psutil.Process()]
    if tree:
        procs += psutil.Process().children(recursive=True)
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def make_images(folder: Path, n: int, size: tuple[int, int]) -> float:
    """N JPEGs in 10 sub-folders; returns the seconds taken."""
    import numpy as np

    from faceveil.io.images import write_image
    from faceveil.testing import make_scene

    start = time.perf_counter()
    bases = [
        make_scene(s, size=size, n_faces=1 + s % 4, face_sizes=(30, 140))[0]
        for s in range(min(BASES, n))
    ]
    for i in range(n):
        img = bases[i % len(bases)]
        variant = i // len(bases)
        if variant % 2:
            img = img[:, ::-1]
        offset = (variant // 2 % 10 - 5) * 6
        img = np.clip(img.astype(np.int16) + offset, 0, 255).astype(np.uint8)
        write_image(folder / f"cam{i % 10}" / f"frame{i:06d}.jpg", img)
    return time.perf_counter() - start


def run_loop(src: Path, out: Path) -> dict:
    import cv2

    from faceveil.anonymize.options import AnonymizeOptions
    from faceveil.anonymize.runner import anonymize_image_file, plan
    from faceveil.batch.worker import warm_up

    options = AnonymizeOptions()
    warm_up()
    load = os.getloadavg()
    cpu = _cpu_seconds(tree=False)
    start = time.perf_counter()
    pairs = plan([src], out)
    for a, b in pairs:
        anonymize_image_file(a, b, options)
    seconds = time.perf_counter() - start
    return {
        "config": "loop",
        "files": len(pairs),
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds(tree=False) - cpu,
        "workers": 1,
        "cv2_threads": cv2.getNumThreads(),
        "peak_rss_mb": [_peak_rss_mb()],
        "load_before": load,
        "load_after": os.getloadavg(),
    }


def _worker_memory() -> tuple[float, float, int]:
    import cv2

    return _peak_rss_mb(), _rss_mb(), cv2.getNumThreads()


def run_dask(src: Path, out: Path, workers: int, chunk_size: int) -> dict:
    from faceveil.batch import open_client, run_batch

    t0 = time.perf_counter()
    with open_client("local", workers=workers) as client:
        client.run(_worker_memory)  # every worker is up and warm
        startup = time.perf_counter() - t0
        load = os.getloadavg()
        cpu = _cpu_seconds(tree=True)  # driver + scheduler + nannies + workers
        start = time.perf_counter()
        summary = run_batch(src, out, client=client, chunk_size=chunk_size)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds(tree=True) - cpu
        memory = list(client.run(_worker_memory).values())
    assert summary.failed == 0, summary.failures[:3]
    return {
        "config": f"dask-{workers}",
        "files": summary.files,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "workers": workers,
        "startup_seconds": startup,
        "cv2_threads": memory[0][2],
        "peak_rss_mb": [m[0] for m in memory],
        "rss_end_mb": [m[1] for m in memory],
        "driver_peak_rss_mb": _peak_rss_mb(),
        "load_before": load,
        "load_after": os.getloadavg(),
    }


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.jpg")):
        h.update(str(p.relative_to(folder)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise SystemExit(f"{args}: failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--size", default="640x480", help="WxH of the generated images")
    ap.add_argument("--chunk-size", type=int, default=32)
    ap.add_argument("--configs", default="loop,dask-1,dask-2")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child: run one configuration
    ap.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one == "loop":
        print(json.dumps(run_loop(args.src, args.out)))
        return
    if args.one:
        workers = int(args.one.split("-")[1])
        print(json.dumps(run_dask(args.src, args.out, workers, args.chunk_size)))
        return
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="faceveil-bench-batch-") as tmp:
        src = Path(tmp) / "in"
        gen = make_images(src, args.n, (w, h))
        in_kb = sum(p.stat().st_size for p in src.rglob("*.jpg")) / args.n / 1024
        print(f"generated {args.n} images {w}x{h} in {gen:.0f} s, {in_kb:.0f} KB each", flush=True)
        results = []
        for config in args.configs.split(","):
            out = Path(tmp) / config
            r = _child(["--one", config, "--src", str(src), "--out", str(out),
                        "--chunk-size", str(args.chunk_size)])  # fmt: skip
            r["digest"] = _digest(out)
            r["in_kb"] = in_kb
            r["out_kb"] = sum(p.stat().st_size for p in out.rglob("*.jpg")) / r["files"] / 1024
            r["files_per_second"] = r["files"] / r["seconds"]
            results.append(r)
            print(json.dumps({k: v for k, v in r.items() if k != "digest"}), flush=True)
    same = len({r["digest"] for r in results}) == 1
    base = next((r for r in results if r["config"] == "loop"), None)
    print(f"\n{args.n} images {w}x{h}, blur, chunk size {args.chunk_size}, {os.cpu_count()} cores")
    print("| run | workers | files/s | vs loop | CPU s/file (all processes) | vs loop "
          "| worker peak RSS MB | start-up s | load 1-min before -> after |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in results:
        cpu = r["cpu_seconds"] / r["files"]
        rel = f"{r['files_per_second'] / base['files_per_second']:.3f}x" if base else "-"
        rel_cpu = f"{cpu / (base['cpu_seconds'] / base['files']):.3f}x" if base else "-"
        rss = "/".join(f"{m:.0f}" for m in r["peak_rss_mb"])
        print(
            f"| {r['config']} | {r['workers']} | {r['files_per_second']:.2f} | {rel} "
            f"| {cpu:.3f} | {rel_cpu} | {rss} "
            f"| {r.get('startup_seconds', 0):.1f} "
            f"| {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f} |"
        )
    print(f"outputs identical across runs: {same}; mean input {results[0]['in_kb']:.0f} KB, "
          f"output {results[0]['out_kb']:.0f} KB")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "size": [w, h], "results": results,
                                         "identical": same}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
