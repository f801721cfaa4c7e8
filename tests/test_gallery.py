"""The face gallery: enrol, search, list, remove; across processes; CLI round trip; the same
results from the SQLite file and the studio store backends."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceveil.analysis.gallery import Gallery, default_gallery_path
from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.errors import InputError
from faceveil.testing.scenes import orl_files

CLI = [sys.executable, "-m", "faceveil.cli"]
BLANK = np.full((240, 320, 3), 90, np.uint8)


def orl(person: int, image: int) -> Path:
    return orl_files()[(person - 1) * 10 + image - 1]


def run(args: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False, **kw
    )


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


def _sqlite_gallery(tmp_path):
    yield Gallery(tmp_path / "g.sqlite3")


def _store_gallery(tmp_path):
    from faceveil.server.gallery_backend import StoreBackend
    from faceveil.server.settings import Settings
    from faceveil.server.store import open_store

    store = open_store(Settings(data_dir=tmp_path / "studio", run_worker=False))
    try:
        yield Gallery(StoreBackend(store))
    finally:
        store.close()


BACKENDS = {"sqlite": _sqlite_gallery, "store": _store_gallery}


@pytest.fixture(params=list(BACKENDS))
def gallery(request, tmp_path):
    """An empty Gallery on each backend: the SQLite file, the studio store."""
    yield from BACKENDS[request.param](tmp_path)


def test_round_trip(tmp_path):
    g = Gallery(tmp_path / "sub" / "g.sqlite3")
    assert len(g) == 0 and g.list() == [] and g.search_embedding(unit(np.ones(128))) == []
    assert not g.path.exists()  # reading does not create the file
    assert g.add("alice", [orl(1, 1), orl(1, 2)]) == 2
    assert g.add(" bob ", orl(2, 1)) == 1  # one image; the name is stripped
    assert g.add("carol", [orl(3, 1)]) == 1
    assert len(g) == 4
    assert g.list() == [
        {"name": "alice", "count": 2},
        {"name": "bob", "count": 1},
        {"name": "carol", "count": 1},
    ]
    for person, name in ((1, "alice"), (2, "bob"), (3, "carol")):
        matches = g.search(orl(person, 7))
        assert [m.name for m in matches][0] == name
        assert matches[0].same_person and not any(m.same_person for m in matches[1:])
        assert len(matches) == 3 and len({m.name for m in matches}) == 3
        assert matches[0].source in {"1.pgm", "2.pgm"}
    assert g.remove("alice") == 2 and g.remove("alice") == 0 and g.remove("nobody") == 0
    left = g.search(orl(1, 7))
    assert {m.name for m in left} == {"bob", "carol"} and not any(m.same_person for m in left)
    assert len(g) == 2


def test_faceless_images(tmp_path):
    g = Gallery(tmp_path / "g.sqlite3")
    with pytest.raises(InputError, match=r"no face found in image array; nothing enrolled"):
        g.add("dave", [orl(4, 1), BLANK])
    assert len(g) == 0
    assert g.add("dave", [orl(4, 1), BLANK], skip_missing=True) == 1
    with pytest.raises(InputError, match="no face found"):
        g.add("dave", [BLANK], skip_missing=True)
    with pytest.raises(InputError, match="no face found in image array"):
        g.search(BLANK)
    with pytest.raises(InputError, match="non-empty"):
        g.add("  ", orl(4, 2))
    assert len(g) == 1


def test_top_k_ordering_and_best_face_per_name(gallery):
    g = gallery
    e0, e1 = np.eye(128, dtype=np.float32)[:2]
    cosines = {"a": 0.9, "b": 0.5, "c": 0.7, "d": 0.1, "e": 0.3}
    names = list(cosines)
    g.add_embeddings(names, np.stack([c * e0 + np.sqrt(1 - c * c) * e1 for c in cosines.values()]))
    g.add_embeddings("a", (0.2 * e0 + np.sqrt(0.96) * e1)[None])  # a worse face of "a"
    matches = g.search_embedding(e0, top_k=3)
    assert [m.name for m in matches] == ["a", "c", "b"]
    assert [round(m.similarity, 4) for m in matches] == [0.9, 0.7, 0.5]
    assert [m.same_person for m in matches] == [True, True, True]
    assert matches[0].id == 1  # the best face of "a", not the later one
    everyone = g.search_embedding(e0, top_k=10, threshold=0.6)
    assert [m.name for m in everyone] == ["a", "c", "b", "e", "d"]
    assert [m.same_person for m in everyone] == [True, True, False, False, False]
    with pytest.raises(ValueError, match="top_k"):
        g.search_embedding(e0, top_k=0)
    with pytest.raises(ValueError, match="shape"):
        g.add_embeddings("x", np.ones((2, 64)))


def _reference(emb, names, query, top_k):
    """Brute force: each name's best cosine, best first."""
    sims = unit_rows(emb) @ unit(query)
    best: dict[str, float] = {}
    for name, s in zip(names, sims, strict=True):
        best[name] = max(best.get(name, -2.0), float(s))
    return sorted(best.items(), key=lambda kv: -kv[1])[:top_k]


def unit_rows(e) -> np.ndarray:
    e = np.asarray(e, np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_both_backends_give_the_same_results(tmp_path):
    rng = np.random.default_rng(11)
    people = ["alice", "Bob", "bob", "Émile", "zoë", "Zed"] + [f"p{i:02d}" for i in range(30)]
    names = [people[i] for i in rng.integers(0, len(people), 400)]
    emb = rng.standard_normal((400, 128)) * rng.uniform(0.5, 3, (400, 1))  # not unit length
    sources = [f"{i}.png" if i % 3 else None for i in range(400)]
    queries = np.concatenate([emb[::37] + 0.3 * rng.standard_normal((11, 128)),
                              rng.standard_normal((5, 128))])  # fmt: skip
    galleries = []
    for make in BACKENDS.values():
        it = make(tmp_path / make.__name__)
        galleries.append((it, next(it)))
    try:
        sqlite_g, store_g = (g for _, g in galleries)
        for g in (sqlite_g, store_g):
            assert g.add_embeddings(names[:300], emb[:300], sources=sources[:300]) == 300
            g.add_embeddings(names[300:], emb[300:], sources=sources[300:])
        assert len(sqlite_g) == len(store_g) == 400
        assert sqlite_g.list() == store_g.list()
        assert [n["name"] for n in store_g.list()][:3] == ["Bob", "Zed", "alice"]  # code points
        for q in queries:
            for top_k, threshold in ((1, SFACE_THRESHOLD), (5, 0.1), (50, 0.0)):
                a = sqlite_g.search_embedding(q, top_k=top_k, threshold=threshold)
                b = store_g.search_embedding(q, top_k=top_k, threshold=threshold)
                assert a == b  # ids, names, similarities, same_person, sources
                ref = _reference(emb, names, q, top_k)
                assert [m.name for m in a] == [n for n, _ in ref]
                assert [m.similarity for m in a] == pytest.approx([s for _, s in ref], abs=1e-5)
                assert [m.same_person for m in a] == [s >= threshold for _, s in ref]
                assert all(m.source == sources[m.id - 1] for m in a)
        # a removal is seen by the next search in both (the SQLite copy is cached)
        assert sqlite_g.remove("alice") == store_g.remove("alice") > 0
        for q in queries[:4]:
            a = sqlite_g.search_embedding(q, top_k=40)
            assert a == store_g.search_embedding(q, top_k=40)
            assert "alice" not in {m.name for m in a}
        assert sqlite_g.list() == store_g.list() and len(sqlite_g) == len(store_g)
    finally:
        for it, _ in galleries:
            it.close()


def test_name_rules_are_the_galleries_in_every_backend(gallery):
    with pytest.raises(InputError, match="non-empty"):
        gallery.add_embeddings(" ", unit(np.ones(128)))
    with pytest.raises(InputError, match="control characters"):
        gallery.add_embeddings("a\tb", unit(np.ones(128)))
    with pytest.raises(InputError, match="at most 200"):
        gallery.add_embeddings("x" * 201, unit(np.ones(128)))
    assert gallery.add_embeddings("  carol ", unit(np.ones(128))) == 1
    assert gallery.list() == [{"name": "carol", "count": 1}]
    assert gallery.remove(" carol") == 1 and gallery.remove("carol") == 0 and len(gallery) == 0


def test_real_faces_among_1000_random(tmp_path):
    g = Gallery(tmp_path / "g.sqlite3")
    rng = np.random.default_rng(7)
    g.add_embeddings([f"r{i}" for i in range(1000)], rng.standard_normal((1000, 128)))
    people = (5, 12, 19, 26, 33)
    for p in people:
        g.add(f"person{p}", orl(p, 1))
    assert len(g) == 1005
    for p in people:
        matches = g.search(orl(p, 9), top_k=5)
        assert matches[0].name == f"person{p}" and matches[0].same_person
        assert not any(m.same_person for m in matches[1:])


def test_persistence_across_processes(tmp_path):
    db = tmp_path / "g.sqlite3"
    g = Gallery(db)
    g.add("alice", orl(6, 1))
    g.add("bob", orl(7, 1))
    assert g.search(orl(6, 8))[0].name == "alice"  # warms this process's matrix
    script = (
        "import json, sys; from faceveil.analysis.gallery import Gallery; g = Gallery(sys.argv[1]);"
        "g.add('carol', sys.argv[3]);"
        "print(json.dumps([m.to_dict() for m in g.search(sys.argv[2])]))"
    )
    proc = run([sys.executable, "-c", script, db, orl(7, 8), orl(8, 1)])
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found[0]["name"] == "bob" and found[0]["same_person"] is True
    assert {m["name"] for m in found} == {"alice", "bob", "carol"}
    # The other process's enrolment is visible here, though this object had a cached matrix.
    assert g.search(orl(8, 8))[0].name == "carol"
    assert len(g) == 3


def test_concurrent_writers(tmp_path):
    db = tmp_path / "g.sqlite3"
    script = (
        "import sys, numpy as np; from faceveil.analysis.gallery import Gallery;"
        "g = Gallery(sys.argv[1]); rng = np.random.default_rng(int(sys.argv[2]));"
        "[g.add_embeddings(f'w{sys.argv[2]}', rng.standard_normal((10, 128))) for _ in range(20)]"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(db), str(seed)], stderr=subprocess.PIPE)
        for seed in (1, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    g = Gallery(db)
    assert g.list() == [{"name": "w1", "count": 200}, {"name": "w2", "count": 200}]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_not_a_gallery(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 200)
    with pytest.raises(InputError, match="not a faceveil gallery"):
        Gallery(text).list()
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(InputError, match="not a faceveil gallery"):
        Gallery(other).add("x", orl(1, 1))
    with pytest.raises(InputError, match="is a directory"):
        len(Gallery(tmp_path))


def test_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEVEIL_GALLERY", str(tmp_path / "env.sqlite3"))
    assert Gallery().path == tmp_path / "env.sqlite3"
    monkeypatch.delenv("FACEVEIL_GALLERY")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_gallery_path() == tmp_path / ".local/share/faceveil/gallery.sqlite3"


# --------------------------------------------------------------------------- CLI


def test_cli_round_trip(tmp_path):
    db = tmp_path / "people.sqlite3"

    def cli(*args):
        return run([*CLI, "gallery", *args, "--db", db])

    proc = cli("add", "alice", orl(9, 1), orl(9, 2))
    assert proc.returncode == 0, proc.stderr
    assert "enrolled 2 face(s) as 'alice'" in proc.stdout
    assert cli("add", "bob", orl(10, 1)).returncode == 0
    data = json.loads(cli("list", "--json").stdout)
    assert data == {"names": [{"name": "alice", "count": 2}, {"name": "bob", "count": 1}]}
    proc = cli("search", orl(10, 6), "--json", "--top-k", "1")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["threshold"] == SFACE_THRESHOLD and len(data["matches"]) == 1
    assert data["matches"][0]["name"] == "bob" and data["matches"][0]["same_person"] is True
    assert cli("search", orl(9, 6)).stdout.startswith("1. alice")
    proc = cli("remove", "alice")
    assert proc.returncode == 0 and "removed 2 face(s)" in proc.stdout
    proc = cli("remove", "alice")
    assert proc.returncode == 1 and proc.stderr.startswith("faceveil: error: no faces enrolled")
    assert cli("list").stdout.split() == ["bob", "1"]
    # FACEVEIL_GALLERY is the default for --db.
    proc = run([*CLI, "gallery", "list", "--json"], env={"FACEVEIL_GALLERY": str(db)})
    assert json.loads(proc.stdout) == {"names": [{"name": "bob", "count": 1}]}
