"""The batch manifest: one row per input, written as each chunk completes.

Two formats, picked by the path's extension:

- ``*.jsonl``: one JSON object per line, appended and fsync'ed once per chunk. A line cut short
  by a kill is ignored on reading, and the next append starts on a fresh line.
- anything else (``manifest.parquet`` by default): a *folder* of Parquet files, one
  ``part-<run>-<chunk>.parquet`` per completed chunk, each written to a hidden temporary name
  and renamed, so a kill leaves only whole parts. Read it with
  ``pyarrow.dataset.dataset(path)`` (hidden and ``_`` files are ignored) or
  :func:`read_manifest`. At the end of a run the parts are compacted into one file.

Rows of one (run, chunk, input) can appear twice only if a kill lands between compaction's
write and its deletes; :func:`read_manifest` drops such duplicates.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from pathlib import Path

# Column order and Arrow types; None is allowed in every column but input and status.
COLUMNS = {
    "input": "string",
    "input_size": "int64",
    "input_hash": "string",  # sha256 of the input's bytes
    "output": "string",
    "output_hash": "string",  # sha256 of the output's bytes, checked by --resume
    "faces": "int32",
    "method": "string",
    "seconds": "float64",
    "status": "string",  # ok | failed: reason | skipped
    "worker": "string",
    "run": "string",
    "chunk": "int64",
    "finished": "float64",  # unix time
}


def new_run_id() -> str:
    """Sorts in start order (UTC, microseconds), unique across machines."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}"
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def _schema():
    import pyarrow as pa

    return pa.schema([(name, pa.type_for_alias(t)) for name, t in COLUMNS.items()])


def _table(rows: list[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist([{k: r.get(k) for k in COLUMNS} for r in rows], schema=_schema())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_parquet_atomic(path: Path, rows: list[dict]) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(_table(rows), tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def is_jsonl(path: str | Path) -> bool:
    return str(path).lower().endswith((".jsonl", ".ndjson"))


class ManifestWriter:
    """Appends the rows of each completed chunk; safe against a kill at any point."""

    def __init__(self, path: str | Path, run: str | None = None):
        self.path = Path(path)
        self.run = run or new_run_id()
        self.jsonl = is_jsonl(self.path)
        self._parts: list[Path] = []
        if self.jsonl:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size:
                with open(self.path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    cut = f.read(1) != b"\n"
                if cut:  # a kill mid-line: end that line so the next row stands alone
                    with open(self.path, "ab") as f:
                        f.write(b"\n")
        else:
            if self.path.exists() and not self.path.is_dir():
                raise FileExistsError(f"{self.path}: a Parquet manifest is a folder")
            self.path.mkdir(parents=True, exist_ok=True)

    def write(self, rows: list[dict], chunk: int) -> None:
        if not rows:
            return
        rows = [{**r, "run": self.run, "chunk": chunk} for r in rows]
        if self.jsonl:
            data = "".join(json.dumps({k: r.get(k) for k in COLUMNS}) + "\n" for r in rows)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            return
        part = self.path / f"part-{self.run}-{chunk:08d}.parquet"
        _write_parquet_atomic(part, rows)
        self._parts.append(part)

    def compact(self) -> None:
        """Merge every part file into one (Parquet only): fewer files for the next reader."""
        if self.jsonl:
            return
        parts = sorted(self.path.glob("*.parquet"))
        if len(parts) < 2:
            return
        rows = read_manifest(self.path)
        _write_parquet_atomic(self.path / f"compact-{new_run_id()}.parquet", rows)
        for p in parts:  # a kill here leaves duplicates, which read_manifest drops
            p.unlink(missing_ok=True)
        _fsync_dir(self.path)


def read_manifest(path: str | Path) -> list[dict]:
    """Every row, in the order written (by run, then chunk); [] when there is no manifest."""
    path = Path(path)
    if not path.exists():
        return []
    if is_jsonl(path):
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # the line a kill cut short
            if isinstance(row, dict) and "input" in row:
                rows.append(row)
    else:
        import pyarrow.dataset as ds

        if not path.is_dir():
            raise ValueError(f"{path}: a Parquet manifest is a folder of part files")
        rows = ds.dataset(path, format="parquet", schema=_schema()).to_table().to_pylist()
    seen: set[tuple] = set()
    unique = []
    for r in rows:
        key = (r.get("run"), r.get("chunk"), r["input"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    unique.sort(key=lambda r: (r.get("run") or "", r.get("chunk") or 0))
    return unique


def latest_ok(rows: list[dict]) -> dict[str, dict]:
    """The last ``ok`` row of each input: what --resume checks against."""
    return {r["input"]: r for r in rows if r.get("status") == "ok"}
