"""The studio store: migrations, content-addressed files, the job queue and worker (cancel,
restart, resume of training from its checkpoint), the gallery table.

Every test runs on SQLite; with FACEVEIL_TEST_POSTGRES_URL set (see
scripts/start_test_postgres.sh) each also runs on a fresh PostgreSQL database.
"""

from __future__ import annotations

import threading
import time
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from faceveil.errors import InputError
from faceveil.server import jobs
from faceveil.server.dataset_ops import import_image
from faceveil.server.models_db import Dataset, Job
from faceveil.server.settings import Settings
from faceveil.server.store import open_store, start_worker


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """None (SQLite in the data dir), or a new PostgreSQL database dropped afterwards (on
    FACEVEIL_TEST_POSTGRES_URL's server, or a throwaway one: conftest's postgres_url)."""
    if request.param == "sqlite":
        yield None
        return
    pg_url = request.getfixturevalue("postgres_url")
    import psycopg

    name = f"faceveil_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("FACEVEIL_MODELS", str(tmp_path / "model_home"))  # train registers here
    return Settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def handlers():
    """Test job kinds: 'echo' returns its params; 'wait' steps until stopped or told to end;
    'boom' fails."""
    release = threading.Event()

    def wait(ctx):
        for step in range(2000):
            ctx.check()
            ctx.progress(step % 100, "")
            if release.is_set():
                return {"steps": step}
            time.sleep(0.01)
        raise AssertionError("never released")

    def boom(ctx):
        raise ValueError("the handler broke\nsecond line")

    jobs.register_handler("echo", lambda ctx: {"params": ctx.params, "try": ctx.attempt})
    jobs.register_handler("wait", wait)
    jobs.register_handler("boom", boom)
    yield release
    release.set()
    for kind in ("echo", "wait", "boom"):
        jobs.HANDLERS.pop(kind, None)


def wait_for(store, job_id, statuses, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = store.job(job_id)
        if job["status"] in statuses:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {store.job(job_id)['status']}, not {statuses}")


def test_migrations_create_the_schema_and_sqlite_runs_in_wal(settings):
    store = open_store(settings)
    try:
        with store.engine.connect() as con:
            tables = set(sa.inspect(con).get_table_names())
            assert {"datasets", "images", "image_faces", "image_tags", "files", "models",
                    "jobs", "gallery_faces"} <= tables  # fmt: skip
            assert con.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0001"
            if store.engine.dialect.name == "sqlite":
                assert con.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()
    open_store(settings).close()  # opening again finds the schema at head and changes nothing


def test_files_are_content_addressed_and_an_image_is_stored_once(settings):
    store = open_store(settings)
    try:
        from faceveil.io.images import encode_image

        png = encode_image(np.full((40, 50, 3), 90, np.uint8), ".png")
        sha = store.files.put(png, ".png")
        assert store.files.put(png, ".png") == sha and store.files.path(sha).read_bytes() == png
        assert len(list((store.data_dir / "files").rglob("*.png"))) == 1
        assert store.files.find("../../etc/passwd") is None and store.files.find("0" * 64) is None
        with store.session() as s:
            a, b = Dataset(name="a"), Dataset(name="b")
            s.add_all([a, b])
            s.flush()
            first, created = import_image(store, s, a, "x.png", png, tags=["Grey", "grey "])
            again, created_again = import_image(store, s, a, "y.png", png)
            other, created_other = import_image(store, s, b, "z.png", png, split="test")
            assert created and not created_again and again.id == first.id
            assert created_other and other.id != first.id and other.sha == first.sha == sha
            assert [t.tag for t in first.tags] == ["grey"] and other.split == "test"
            assert (first.width, first.height, first.face_count) == (50, 40, 0)
            with pytest.raises(InputError, match="not an image"):
                import_image(store, s, a, "t.txt", b"plain text")
            with pytest.raises(InputError, match="split"):
                import_image(store, s, a, "w.png", png[:-1] + b"\x00", split="validation")
        assert len(list((store.data_dir / "files").rglob("*.png"))) == 1
    finally:
        store.close()


def test_jobs_run_fail_and_cancel(settings, handlers):
    store = open_store(settings)
    worker = start_worker(store)
    try:
        done = wait_for(store, store.submit_job("echo", {"x": 1}), {"done"})
        assert done["result"] == {"params": {"x": 1}, "try": 1} and done["progress"] == 100
        failed = wait_for(store, store.submit_job("boom", {}), {"failed"})
        assert failed["error"] == "the handler broke" and "failed" in failed["log"]
        with pytest.raises(InputError, match="unknown job kind"):
            store.submit_job("nope", {})
        running = store.submit_job("wait", {})
        queued = store.submit_job("echo", {"y": 2})
        wait_for(store, running, {"running"})
        assert store.job(queued)["status"] == "queued"  # one job at a time
        assert store.cancel_job(queued)["status"] == "cancelled"  # never runs
        assert store.cancel_job(running)["cancel_requested"]
        job = wait_for(store, running, {"cancelled"})
        assert "cancel requested" in job["log"] and job["result"] is None
        time.sleep(0.3)
        assert store.job(queued)["status"] == "cancelled"
        assert store.cancel_job(10_000) is None and store.job(10_000) is None
        jobs, total = store.list_jobs(limit=2)
        assert total == 4 and [j["id"] for j in jobs] == [queued, running]
        assert store.list_jobs(status="cancelled")[1] == 2
    finally:
        worker.stop()
        store.close()


def test_jobs_survive_a_restart(settings, handlers):
    store = open_store(settings)
    worker = start_worker(store)
    stopped = store.submit_job("wait", {})
    wait_for(store, stopped, {"running"})
    worker.stop()  # the app stops under a running job: resumable, not cancelled
    assert store.job(stopped)["status"] == "interrupted"
    crashed = store.submit_job("echo", {"n": 1})
    queued = store.submit_job("echo", {"n": 2})
    with store.session() as s:  # a process that died mid-job leaves it "running"
        s.get(Job, crashed).status = "running"
    store.close()

    store = open_store(settings)
    try:
        assert store.job(crashed)["status"] == "interrupted"
        assert store.job(queued)["status"] == "queued"
        with pytest.raises(InputError, match="queued"):
            store.resume_job(queued)
        worker = start_worker(store)
        assert wait_for(store, queued, {"done"})["result"]["params"] == {"n": 2}
        assert store.job(crashed)["status"] == "interrupted"  # waits for the user
        assert store.resume_job(crashed)["status"] == "queued"
        resumed = wait_for(store, crashed, {"done"})
        assert resumed["result"]["try"] == 1 and "resumed" in resumed["log"]
        handlers.set()
        store.resume_job(stopped)
        assert wait_for(store, stopped, {"done"})["attempts"] == 2
        worker.stop()
    finally:
        store.close()


def test_the_selected_generator_and_the_gallery(settings):
    from faceveil.analysis.gallery import Gallery
    from faceveil.server.gallery_backend import StoreBackend

    store = open_store(settings)
    try:
        assert store.selected_generator() == "dcgan64"
        gallery = Gallery(StoreBackend(store))
        rng = np.random.default_rng(0)
        alice, bob = rng.normal(size=(2, 128)).astype(np.float32)
        assert gallery.add_embeddings("alice", np.stack([alice, alice + 0.1])) == 2
        gallery.add_embeddings("bob", bob, sources=["b.png"])
        hits = gallery.search_embedding(alice * 3, top_k=5)
        assert [h.name for h in hits] == ["alice", "bob"] and hits[0].same_person
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-4) and hits[1].source == "b.png"
        assert gallery.list() == [{"name": "alice", "count": 2}, {"name": "bob", "count": 1}]
        assert gallery.remove("alice") == 2 and len(gallery.search_embedding(alice)) == 1
        assert len(gallery) == 1
    finally:
        store.close()


def test_training_resumes_from_its_checkpoint_after_a_restart(settings):
    """A tiny generator (as in test_prepare_train) trained for 3 epochs; the app stops after
    the first, and the resumed job continues from the checkpoint, not from scratch."""
    from faceveil.gen import get_generator
    from faceveil.io.images import encode_image
    from faceveil.server.api.models import _models

    store = open_store(settings)
    faces = get_generator().sample(16, seed=3)
    with store.session() as s:
        ds = Dataset(name="faces")
        s.add(ds)
        s.flush()
        for i, face in enumerate(faces):
            import_image(store, s, ds, f"{i}.png", encode_image(face, ".png"), split="train")
        ds_id = ds.id
    params = {"dataset_id": ds_id, "name": "tiny", "prepare": False, "epochs": 3, "res": 32,
              "width": 8, "latent_dim": 16, "batch": 8, "template_samples": 16}  # fmt: skip
    with pytest.raises(InputError, match="exists already"):
        store.submit_job("train", {**params, "name": "dcgan64"})
    with pytest.raises(InputError, match="no dataset"):
        store.submit_job("train", {**params, "dataset_id": 999})
    job_id = store.submit_job("train", params)
    worker = start_worker(store)
    end = time.monotonic() + 120
    while "epoch 1/3" not in store.job(job_id)["log"] and time.monotonic() < end:
        time.sleep(0.01)
    worker.stop()
    first = store.job(job_id)
    assert first["status"] == "interrupted", first["log"]
    epochs_before = first["log"].count("epoch ")
    assert 1 <= epochs_before < 3
    store.close()

    store = open_store(settings)
    try:
        store.resume_job(job_id)
        worker = start_worker(store)
        job = wait_for(store, job_id, {"done", "failed"}, timeout=180)
        worker.stop()
        assert job["status"] == "done", job["error"]
        assert f"resuming from the checkpoint after epoch {epochs_before}" in job["log"]
        assert [e["epoch"] for e in job["result"]["log"]] == [1, 2, 3]
        assert job["log"].count("epoch 1/3") == 1  # epoch 1 ran once
        files = store.job_files(job_id)
        assert {"losses.png", "samples/epoch_0001.png", "samples/epoch_0003.png"} <= set(files)
        model = next(m for m in _models(store) if m.name == "tiny")
        assert model.source == "trained" and model.job_id == job_id and model.resolution == 32
        assert model.metadata["tags"]["epochs"] == "3"
    finally:
        store.close()
