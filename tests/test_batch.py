"""`faceveil batch` on a real Dask LocalCluster: outputs equal a single process's byte for
byte, a corrupt file is recorded and passed over, a SIGKILLed run resumes to exactly the
complete set, --resume checks the recorded hashes, the manifest round-trips, the studio's
dataset job runs on the cluster, and bad input gives one line."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from conftest import faceveil_cmd
from faceveil.anonymize import AnonymizeOptions, anonymize, anonymize_paths
from faceveil.batch import ManifestWriter, open_client, read_manifest, run_batch
from faceveil.batch.manifest import COLUMNS
from faceveil.batch.worker import detector_loads
from faceveil.errors import OutputError
from faceveil.io.images import encode_image, write_image
from faceveil.testing import make_scene

N_GOOD = 8


def _make_folder(root: Path, n: int, corrupt: bool = True) -> Path:
    """`n` small scenes of 1-2 faces in nested folders (PNG and JPEG), a corrupt JPEG and a
    text file that is not an input."""
    for i in range(n):
        img, _ = make_scene(i, size=(320, 240), n_faces=1 + i % 2, face_sizes=(60, 90))
        write_image(root / f"part{i % 3}" / f"img{i:03d}.{'png' if i % 2 else 'jpg'}", img)
    if corrupt:
        (root / "part0" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    (root / "notes.txt").write_text("not an image")
    return root


def _files(root: Path) -> dict[str, bytes]:
    """Every visible image under `root`, by relative path (the manifest folder aside)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".png", ".jpg") and not p.name.startswith(".")
        and "_faceveil_manifest" not in str(p)
    }  # fmt: skip


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes for the module; closed (workers gone) after."""
    with open_client("local", workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return _make_folder(tmp_path_factory.mktemp("batch") / "in", N_GOOD)


@pytest.fixture(scope="module")
def reference(folder, tmp_path_factory) -> dict[str, bytes]:
    """The single-process outputs (``faceveil anonymize``'s runner)."""
    out = tmp_path_factory.mktemp("ref") / "out"
    anonymize_paths([folder], out, progress=False)
    return _files(out)


@pytest.fixture(scope="module")
def first_run(client, folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    return out, run_batch(folder, out, client=client, chunk_size=2)


def test_cluster_outputs_equal_single_process_byte_for_byte(first_run, reference, client):
    out, summary = first_run
    assert summary.workers == 2
    assert summary.ok == N_GOOD and summary.files == N_GOOD + 1
    got = _files(out)
    assert len(reference) == N_GOOD and got.keys() == reference.keys()
    assert all(got[k] == reference[k] for k in reference)  # byte for byte
    # Both workers did work, and each built the detector once, not once per file.
    rows = read_manifest(summary.manifest)
    assert {r["worker"] for r in rows} == set(client.nthreads())
    assert set(client.run(detector_loads).values()) == {1}


def test_corrupt_file_is_recorded_failed_and_the_run_goes_on(first_run, folder):
    out, summary = first_run
    rows = {Path(r["input"]).name: r for r in read_manifest(summary.manifest)}
    bad = rows["corrupt.jpg"]
    assert bad["status"].startswith("failed: ") and "corrupt.jpg" in bad["status"]
    assert bad["output_hash"] is None and not (out / "part0" / "corrupt.jpg").exists()
    assert summary.failed == 1 and "corrupt.jpg" in summary.failures[0]
    good = [r for name, r in rows.items() if name != "corrupt.jpg"]
    assert len(good) == N_GOOD and all(r["status"] == "ok" for r in good)
    assert sum(r["faces"] for r in good) == summary.faces >= N_GOOD
    assert "notes.txt" not in rows


def test_resume_skips_only_outputs_that_still_match(client, tmp_path):
    src = _make_folder(tmp_path / "in", 6, corrupt=False)
    out = tmp_path / "out"
    first = run_batch(src, out, client=client, chunk_size=2, manifest=tmp_path / "m.jsonl")
    assert first.ok == 6
    before = _files(out)
    tampered, deleted = out / "part1" / "img001.png", out / "part2" / "img002.jpg"
    tampered.write_bytes(encode_image(make_scene(99, size=(32, 32), n_faces=0)[0], ".png"))
    deleted.unlink()
    again = run_batch(
        src, out, client=client, chunk_size=2, resume=True, manifest=tmp_path / "m.jsonl"
    )
    assert (again.ok, again.skipped, again.failed) == (2, 4, 0)
    assert _files(out) == before
    redone = {r["output"] for r in read_manifest(tmp_path / "m.jsonl")[6:] if r["status"] == "ok"}
    assert redone == {str(tampered), str(deleted)}


@pytest.mark.slow
def test_sigkilled_run_resumes_to_exactly_the_complete_set(client, tmp_path):
    n = 30
    src = _make_folder(tmp_path / "in", n, corrupt=False)
    ref = tmp_path / "ref"
    anonymize_paths([src], ref, progress=False)
    out = tmp_path / "out"
    manifest = out / "_faceveil_manifest.parquet"
    cmd = [*faceveil_cmd(), "batch", str(src), "-o", str(out), "--workers", "2",
           "--chunk-size", "2", "-q"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if len(read_manifest(manifest)) >= 4:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, the scheduler and the worker processes
    proc.wait()
    proc.stderr.close()
    for _ in range(100):  # every process of the run's group is gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("worker processes outlived the kill")
    killed = [r for r in read_manifest(manifest) if r["status"] == "ok"]
    assert 4 <= len(killed) < n, "the kill landed after the run had finished"

    summary = run_batch(src, out, client=client, chunk_size=2, resume=True)
    rows = read_manifest(manifest)
    ok = [r["input"] for r in rows if r["status"] == "ok"]
    assert len(ok) == n and len(set(ok)) == n  # every file done, and done once
    assert summary.skipped == len(killed) and summary.ok == n - len(killed)
    assert _files(out) == _files(ref)


def test_manifest_round_trips_in_parquet_and_jsonl(tmp_path):
    import pyarrow.dataset as ds

    rows = [
        {"input": f"/in/{i}.png", "input_size": 100 + i, "input_hash": f"{i:064x}",
         "output": f"/out/{i}.png", "output_hash": f"{i + 7:064x}", "faces": i,
         "method": "blur", "seconds": 0.25 * i, "status": "ok", "worker": "w1",
         "finished": 1.7e9 + i}
        for i in range(5)
    ]  # fmt: skip
    rows[3].update(status="failed: /in/3.png: corrupt image", output_hash=None, faces=None)
    for name in ("m.parquet", "m.jsonl"):
        writer = ManifestWriter(tmp_path / name, run="r1")
        writer.write(rows[:2], 0)
        writer.write(rows[2:], 1)
        back = read_manifest(tmp_path / name)
        assert back == [{**r, "run": "r1", "chunk": int(i >= 2)} for i, r in enumerate(rows)]
        assert set(back[0]) == set(COLUMNS)
        writer.compact()
        assert read_manifest(tmp_path / name) == back
    parts = ds.dataset(tmp_path / "m.parquet", format="parquet")  # the documented way
    assert parts.to_table().num_rows == 5 and len(list((tmp_path / "m.parquet").iterdir())) == 1
    # A kill mid-line: the cut line is dropped and the next run's rows still read back.
    with open(tmp_path / "m.jsonl", "a") as f:
        f.write('{"input": "/in/cut.png", "sta')
    ManifestWriter(tmp_path / "m.jsonl", run="r2").write([{"input": "/in/9.png"}], 0)
    inputs = [r["input"] for r in read_manifest(tmp_path / "m.jsonl")]
    assert inputs == [r["input"] for r in rows] + ["/in/9.png"]


def test_bad_input_is_one_line_and_non_zero(folder, tmp_path, run_cli):
    cases = [
        (["batch", tmp_path / "missing", "-o", tmp_path / "o"], 1, "no such file"),
        (["batch", folder, "-o", folder / "inside"], 1, "must not be inside"),
        (["batch", folder, "-o", tmp_path / "o", "--chunk-size", "0"], 2, "--chunk-size"),
        (["batch", folder, "-o", tmp_path / "o", "--scheduler", "nowhere"], 2, "--scheduler"),
        (["batch", folder, "-o", tmp_path / "o", "--method", "nope"], 2, "unknown method"),
    ]
    for args, code, text in cases:
        proc = run_cli(*args)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0] and "Traceback" not in proc.stderr
    assert not (folder / "inside").exists() and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_studio_dataset_job_runs_on_the_cluster(client, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from faceveil.server.app import create_app
    from faceveil.server.settings import Settings

    monkeypatch.setenv("FACEVEIL_DASK_SCHEDULER", client.scheduler.address)
    api = "/api/v1"
    scenes = [make_scene(s, size=(320, 240), n_faces=1, face_sizes=(70, 90))[0] for s in range(3)]
    pngs = [encode_image(img, ".png") for img in scenes]
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as http:
        ds = http.post(f"{api}/datasets", json={"name": "d"}).json()["id"]
        files = [("files", (f"s{i}.png", data, "image/png")) for i, data in enumerate(pngs)]
        assert http.post(f"{api}/datasets/{ds}/images", files=files).status_code == 200
        params = {"dataset_id": ds, "method": "pixelate"}
        job = http.post(f"{api}/jobs", json={"kind": "anonymize_dataset", "params": params})
        job_id = job.json()["id"]
        end = time.monotonic() + 120
        while (job := http.get(f"{api}/jobs/{job_id}").json())["status"] not in (
            "done", "failed", "cancelled"
        ) and time.monotonic() < end:  # fmt: skip
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert job["progress"] == 100 and job["result"]["images"] == 3
        assert "images on the Dask cluster tcp://127.0.0.1:" in job["log"]
        url = next(f["url"] for f in job["files"] if f["name"] == "anonymized.zip")
        archive = zipfile.ZipFile(io.BytesIO(http.get(url).content))
        got = sorted(archive.read(n) for n in archive.namelist())
    want = sorted(encode_image(anonymize(data, "pixelate")[0], ".png") for data in pngs)
    assert got == want  # the same bytes as the studio's in-process loop


def test_options_reach_the_workers(client, folder, tmp_path):
    out = tmp_path / "out"
    options = AnonymizeOptions(method="solid", color=(255, 0, 0))
    summary = run_batch(folder / "part1", out, options, client=client, chunk_size=4)
    ref = tmp_path / "ref"
    anonymize_paths([folder / "part1"], ref, options=options, progress=False)
    assert summary.ok >= 1 and _files(out) == _files(ref)
    assert {r["method"] for r in read_manifest(summary.manifest)} == {"solid"}


def test_cli_runs_on_a_local_cluster(folder, tmp_path, run_cli):
    proc = run_cli("batch", folder / "part2", "-o", tmp_path / "o", "--workers", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "files (" in proc.stdout and "files/s on 1 workers" in proc.stdout
    assert "Dask dashboard http://127.0.0.1:" in proc.stderr  # bokeh is a dependency


def test_fsspec_urls_plan_and_process(folder):
    """The fsspec path (s3:// and the like), here on fsspec's in-memory filesystem."""
    import fsspec

    from faceveil.batch import plan_pairs
    from faceveil.batch.worker import process_one

    fs = fsspec.filesystem("memory")
    for p in sorted((folder / "part1").iterdir()):
        fs.pipe(f"/bucket/in/sub/{p.name}", p.read_bytes())
    fs.pipe("/bucket/in/.hidden.png", b"x")
    fs.pipe("/bucket/in/readme.txt", b"x")
    pairs = plan_pairs("memory://bucket/in", "memory://bucket/out")
    names = sorted(p.name for p in (folder / "part1").iterdir())
    assert pairs == [(f"memory://bucket/in/sub/{n}", f"memory://bucket/out/sub/{n}") for n in names]
    with pytest.raises(OutputError):
        plan_pairs("memory://bucket/in", "memory://bucket/in/out")
    src, dst = pairs[0]
    row = process_one(src, dst, AnonymizeOptions())
    assert row["status"] == "ok", row
    got = fs.cat(dst.removeprefix("memory://"))
    local = folder / "part1" / names[0]
    ext = local.suffix
    assert got == encode_image(anonymize(local)[0], ext)
    assert row["output_hash"] == hashlib.sha256(got).hexdigest()
    assert row["input_hash"] == hashlib.sha256(local.read_bytes()).hexdigest()
    fs.pipe("/bucket/in/broken.jpg", b"\xff\xd8\xff\xe0" + bytes(64))
    row = process_one("memory://bucket/in/broken.jpg", "memory://bucket/out/broken.jpg",
                      AnonymizeOptions())  # fmt: skip
    assert row["status"].startswith("failed: memory://bucket/in/broken.jpg: "), row
    assert "faceveil-batch-" not in row["status"] and not fs.exists("/bucket/out/broken.jpg")
