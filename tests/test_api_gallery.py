"""The studio's gallery routes: enrol ORL people, search finds the right one, list, remove,
and the error statuses (400 no face, 404, 415, 422)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from faceveil.server.app import create_app
from faceveil.server.settings import Settings

API = "/api/v1"


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def orl() -> dict[int, list[bytes]]:
    from faceveil.io.orl import load_orl

    out: dict[int, list[bytes]] = {}
    for person, image in load_orl():
        if person in (1, 2):
            out.setdefault(person, []).append(png(image))
    return out


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, run_worker=False))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def enrol(client, name: str, data: bytes):
    return client.post(f"{API}/gallery", data={"name": name}, files={"file": ("f.png", data)})


def search(client, data: bytes, **fields):
    return client.post(f"{API}/gallery/search", data=fields, files={"file": ("q.png", data)})


def test_enrol_search_list_remove(client, orl):
    assert client.get(f"{API}/gallery").json() == {"faces": [], "total": 0}
    for name, person in (("alice", 1), ("bob", 2)):
        r = enrol(client, name, orl[person][0])
        assert r.status_code == 200, r.text
        assert r.json()["name"] == name and r.json()["enrolled"] == 1
    assert enrol(client, "alice", orl[1][1]).status_code == 200
    listed = client.get(f"{API}/gallery").json()
    assert listed["faces"] == [{"name": "alice", "count": 2}, {"name": "bob", "count": 1}]
    assert listed["total"] == 3

    # other photos of each person (not enrolled) find that person first
    for person, name, other in ((1, "alice", "bob"), (2, "bob", "alice")):
        r = search(client, orl[person][5])
        assert r.status_code == 200, r.text
        matches = r.json()["matches"]
        assert [m["name"] for m in matches] == [name, other]
        assert matches[0]["same_person"] is True
        assert matches[1]["same_person"] is False
        assert matches[0]["similarity"] > matches[1]["similarity"]

    top1 = search(client, orl[1][5], top_k="1").json()["matches"]
    assert [m["name"] for m in top1] == ["alice"]

    r = client.delete(f"{API}/gallery/alice")
    assert r.status_code == 200 and r.json() == {"name": "alice", "removed": 2}
    assert [m["name"] for m in search(client, orl[1][5]).json()["matches"]] == ["bob"]
    assert client.get(f"{API}/gallery").json()["total"] == 1


def test_search_of_empty_gallery_is_empty(client, orl):
    r = search(client, orl[1][0])
    assert r.status_code == 200 and r.json() == {"matches": []}


def test_errors(client, orl):
    r = client.delete(f"{API}/gallery/nobody")
    assert r.status_code == 404 and "nobody" in r.json()["error"]
    # content decides, not the file name: a text file called .png is refused
    r = enrol(client, "x", b"hello, not an image at all")
    assert r.status_code == 415, r.text
    r = search(client, b"hello, not an image at all")
    assert r.status_code == 415, r.text
    # no face in the image: 400 and nothing enrolled
    blank = png(np.full((200, 200, 3), 128, np.uint8))
    r = enrol(client, "x", blank)
    assert r.status_code == 400 and "no face" in r.json()["error"]
    assert client.get(f"{API}/gallery").json()["total"] == 0
    # validation: missing or blank name, bad top_k, unknown field
    r = client.post(f"{API}/gallery", files={"file": ("f.png", orl[1][0])})
    assert r.status_code == 422 and "name" in r.json()["error"]
    assert enrol(client, "   ", orl[1][0]).status_code == 422
    # the library Gallery's name rule: no control characters (400), and none to remove (404)
    r = enrol(client, "a\tb", orl[1][0])
    assert r.status_code == 400 and "control characters" in r.json()["error"]
    assert client.delete(f"{API}/gallery/a%09b").status_code == 404
    assert search(client, orl[1][0], top_k="0").status_code == 422
    assert search(client, orl[1][0], colour="red").status_code == 422
    # a name but no file
    r = client.post(f"{API}/gallery", data={"name": "x"})
    assert r.status_code == 400 and "file" in r.json()["error"]


def test_gallery_needs_the_token_when_set(tmp_path, orl):
    app = create_app(Settings(data_dir=tmp_path, run_worker=False, api_token="s3cret"))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get(f"{API}/gallery").status_code == 401
        r = c.get(f"{API}/gallery", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200
