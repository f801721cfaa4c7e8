"""Latency of the studio's ``POST /api/v1/edit`` (the Synthesize page's slider update).

Starts ``faceveil serve`` on a free 127.0.0.1 port with a temporary data directory, then sends
slider-like updates (the same start latent, one amount changing each time) over HTTP and prints
the median, 95th percentile and worst wall time per update as a browser would see it. With
``--busy N``, N processes spin torch on the CPU meanwhile (a training job's load).

    .venv/bin/python bench/api_edit_latency.py --updates 60 --busy 0
    .venv/bin/python bench/api_edit_latency.py --updates 60 --busy 2
    .venv/bin/python bench/api_edit_latency.py --updates 60 --busy 2 --json
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spin(stop) -> None:
    import torch

    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a) * 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=60)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--format", default="png", choices=("png", "jpeg"))
    ap.add_argument("--busy", type=int, default=0, help="CPU-bound torch processes meanwhile")
    ap.add_argument(
        "--json", action="store_true", help="as the web UI: JSON answer, then GET the image link"
    )
    args = ap.parse_args()

    port = _free_port()
    data = tempfile.mkdtemp(prefix="faceveil-bench-")
    env = {**os.environ, "FACEVEIL_DEVICE": "cpu"}
    cmd = [str(BIN / "faceveil"), "serve", "--port", str(port), "--data-dir", data, "--no-worker"]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = mp.Event()
    hogs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    try:
        url = f"http://127.0.0.1:{port}/api/v1"
        with httpx.Client(timeout=60) as client:
            for _ in range(200):
                try:
                    client.get(f"{url}/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            body = {"seed": 7, "size": args.size, "image_format": args.format}
            start = time.perf_counter()
            first = client.post(f"{url}/edit", json=body)
            first.raise_for_status()
            cold = time.perf_counter() - start
            for h in hogs:
                h.start()
            times = []
            for i in range(args.updates):
                amount = round(-3 + 6 * i / max(args.updates - 1, 1), 2)
                body["changes"] = {"age": amount, "smile": 0.5, "pc3": -1.0}
                start = time.perf_counter()
                if args.json:
                    r = client.post(f"{url}/edit?format=json", json=body)
                    r.raise_for_status()
                    r = client.get(f"http://127.0.0.1:{port}{r.json()['image']['url']}")
                else:
                    r = client.post(f"{url}/edit", json=body)
                r.raise_for_status()
                times.append(time.perf_counter() - start)
    finally:
        stop.set()
        for h in hogs:
            h.join(timeout=5)
        server.terminate()
        server.wait(timeout=10)
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    via = " via JSON + link" if args.json else ""
    print(
        f"/edit {args.size}px {args.format}{via}, {args.busy} busy process(es), {len(ms)} updates: "
        f"median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms "
        f"(first request, loading the generator: {cold * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
