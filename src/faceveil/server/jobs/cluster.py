"""The studio's dataset jobs on a Dask cluster, when ``FACEVEIL_DASK_SCHEDULER`` is set.

The cluster's workers must see the studio's data folder at the same path (a shared
filesystem): they read the stored images and write the job's outputs there directly.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "FACEVEIL_DASK_SCHEDULER"


def scheduler_address() -> str | None:
    return os.environ.get(ENV) or None


def anonymize_images(ctx, items: list[tuple[int, Path, Path]], options, *, share: float = 90.0):
    """Anonymise (image_id, source, target) on the cluster; targets that exist are kept.

    Progress goes to ``ctx.progress`` (0..`share` percent) as chunks complete, and a cancel
    stops the job between chunks. Returns (targets done in item order, faces, failed list).
    """
    from faceveil.anonymize.state import Cancelled
    from faceveil.batch.engine import open_client, run_pairs
    from faceveil.server.jobs.worker import JobCancelled

    todo = [(str(src), str(dst)) for _, src, dst in items if not dst.exists()]
    total, done = len(items), [len(items) - len(todo)]
    rows: dict[str, dict] = {}

    def on_rows(chunk: list[dict]) -> None:
        done[0] += len(chunk)
        rows.update({r["output"]: r for r in chunk})
        ctx.progress(share * done[0] / max(total, 1), f"{done[0]} of {total} images")

    if todo:
        with open_client(scheduler_address() or "local") as client:  # callers check it is set
            ctx.progress(1, f"{len(todo)} images on the Dask cluster {client.scheduler.address}")
            try:
                run_pairs(client, todo, options, chunk_size=8, on_rows=on_rows,
                          should_stop=ctx.should_stop)  # fmt: skip
            except Cancelled:
                raise JobCancelled() from None
    targets, faces, failed = [], 0, []
    for image_id, _src, dst in items:
        row = rows.get(str(dst))
        if row is not None and row["status"] != "ok":
            failed.append({"image_id": image_id, "error": row["status"].removeprefix("failed: ")})
            continue
        faces += int(row["faces"] or 0) if row is not None else 0
        targets.append(dst)
    return targets, faces, failed
