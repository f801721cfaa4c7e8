"""The studio's data routes: datasets (zip import, bad files, metadata filters, pagination,
tags and split), jobs over HTTP (dataset and video anonymisation, files, cancel, resume),
models (licences, selection) and their error statuses."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import make_clip
from faceveil.io.images import encode_image, read_image
from faceveil.server.app import create_app
from faceveil.server.settings import Settings
from faceveil.testing import make_scene

API = "/api/v1"


@pytest.fixture(scope="module")
def scenes() -> list[bytes]:
    """Six 480x360 scenes of 1-3 faces (astronaut, ORL, DCGAN faces) and one without a face."""
    out = []
    for seed in range(6):
        img, _ = make_scene(seed, size=(480, 360), n_faces=1 + seed % 3, face_sizes=(70, 110))
        out.append(encode_image(img, ".png"))
    return [*out, encode_image(np.full((90, 120, 3), 120, np.uint8), ".jpg")]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    home = tmp_path_factory.mktemp("studio")
    settings = Settings(data_dir=home / "data", max_upload_bytes=5 << 20)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def dataset(client, scenes):
    ds = client.post(f"{API}/datasets", json={"name": "scenes"}).json()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i, data in enumerate(scenes[:4]):
            z.writestr(f"photos/s{i}.png", data)
        z.writestr("photos/broken.png", scenes[0][:300])  # a PNG cut short
        z.writestr("photos/.hidden.png", scenes[0])
        z.writestr("readme.txt", "not an image")
    files = [("files", ("batch.zip", archive.getvalue(), "application/zip"))]
    r = client.post(f"{API}/datasets/{ds['id']}/images", files=files,
                    data={"split": "train", "tags": "Scene, batch1"})  # fmt: skip
    assert r.status_code == 200, r.text
    first = r.json()
    files = [("files", (f"t{i}.png", data, "image/png")) for i, data in enumerate(scenes[4:])]
    files.append(("files", ("again.png", scenes[0], "image/png")))  # same bytes: a duplicate
    r = client.post(f"{API}/datasets/{ds['id']}/images", files=files, data={"split": "test"})
    assert r.status_code == 200, r.text
    return ds["id"], first, r.json()


def ids(page) -> list[int]:
    return [im["id"] for im in page["items"]]


def test_zip_import_lists_bad_files_and_dedups(client, dataset):
    ds, first, second = dataset
    assert len(first["added"]) == 4 and len(second["added"]) == 3
    rejected = {r["name"]: r["error"] for r in first["rejected"]}
    assert set(rejected) == {"batch.zip/photos/broken.png", "batch.zip/readme.txt"}
    assert "not an image" in rejected["batch.zip/readme.txt"]
    assert second["duplicates"] == [first["added"][0]["id"]] and not second["rejected"]
    im = first["added"][0]
    assert im["tags"] == ["batch1", "scene"] and im["split"] == "train"
    assert im["face_count"] == len(im["faces"]) >= 1 and im["width"] == 480
    face = im["faces"][0]
    assert face["gender"] in ("female", "male") and 0 < face["age"] < 100 and face["emotion"]
    info = client.get(f"{API}/datasets/{ds}").json()
    assert info["image_count"] == 7
    assert info["face_count"] == sum(i["face_count"] for i in first["added"] + second["added"])
    img = client.get(im["file_url"])
    assert img.status_code == 200 and img.content == read_bytes_of(client, im)
    thumb = client.get(im["thumbnail_url"], params={"size": 128})
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(read_image(thumb.content).shape[:2]) == 128


def read_bytes_of(client, im) -> bytes:
    return client.get(f"{API}/datasets/{im['dataset_id']}/images/{im['id']}/file").content


def matches(image, **f) -> bool:
    """The filter semantics, computed here from the listed metadata."""
    if "min_faces" in f and image["face_count"] < f["min_faces"]:
        return False
    if "max_faces" in f and image["face_count"] > f["max_faces"]:
        return False
    if "split" in f and image["split"] != f["split"]:
        return False
    if "tag" in f and f["tag"] not in image["tags"]:
        return False
    face_keys = {"gender", "emotion", "skin_tone", "age_min", "age_max"} & set(f)
    if not face_keys:
        return True
    return any(
        all(
            (k != "gender" or face["gender"] == f[k])
            and (k != "emotion" or face["emotion"] == f[k])
            and (k != "skin_tone" or face["skin_tone"] == f[k])
            and (k != "age_min" or face["age"] >= f[k])
            and (k != "age_max" or face["age"] <= f[k])
            for k in face_keys
        )
        for face in image["faces"]
    )


def test_filters_change_the_results_and_totals_count_every_match(client, dataset):
    ds = dataset[0]
    url = f"{API}/datasets/{ds}/images"
    everything = client.get(url, params={"limit": 500}).json()
    assert everything["total"] == 7
    some = everything["items"][0]["faces"][0]
    filters = [
        {"min_faces": 2},
        {"max_faces": 1},
        {"max_faces": 0},
        {"split": "test"},
        {"tag": "scene"},
        {"gender": "male"},
        {"gender": some["gender"], "emotion": some["emotion"]},
        {"age_min": some["age"] - 0.05, "age_max": some["age"] + 0.05},
        {"skin_tone": some["skin_tone"]} if some["skin_tone"] else {"min_faces": 3},
        {"min_faces": 1, "max_faces": 2, "split": "train", "gender": "female"},
    ]
    narrowed = 0
    for f in filters:
        got = client.get(url, params={**f, "limit": 500}).json()
        expected = [im["id"] for im in everything["items"] if matches(im, **f)]
        assert ids(got) == expected and got["total"] == len(expected), f
        narrowed += 0 < len(expected) < 7
    assert narrowed >= 7  # most filters keep some images and drop others
    pages = [client.get(url, params={"limit": 3, "offset": o}).json() for o in (0, 3, 6)]
    assert [p["total"] for p in pages] == [7, 7, 7]
    assert sum((ids(p) for p in pages), []) == ids(everything) and len(ids(pages[2])) == 1
    male = client.get(url, params={"gender": "male", "limit": 1, "offset": 1}).json()
    assert male["total"] == sum(matches(im, gender="male") for im in everything["items"])


def test_tags_and_split_can_be_edited_and_images_deleted(client, dataset):
    ds, first, _ = dataset
    im = first["added"][1]
    url = f"{API}/datasets/{ds}/images/{im['id']}"
    r = client.patch(url, json={"tags": ["Keep", "odd one"]})
    assert r.json()["tags"] == ["keep", "odd one"] and r.json()["split"] == "train"
    assert client.patch(url, json={"split": None}).json()["split"] is None
    assert client.patch(url, json={"split": "valid"}).status_code == 422
    listed = client.get(f"{API}/datasets/{ds}/images", params={"tag": "odd one"}).json()
    assert ids(listed) == [im["id"]]
    assert (
        client.patch(url, json={"split": "train", "tags": ["scene", "batch1"]}).status_code == 200
    )
    other = client.post(f"{API}/datasets", json={"name": "scratch"}).json()["id"]
    added = client.post(
        f"{API}/datasets/{other}/images",
        files=[("files", ("x.png", read_bytes_of(client, im), "image/png"))],
    ).json()["added"][0]
    assert added["faces"] == im["faces"]  # metadata reused for the same file
    assert client.get(f"{API}/datasets/{ds}/images/{added['id']}").status_code == 404
    assert client.delete(f"{API}/datasets/{other}/images/{added['id']}").status_code == 204
    assert client.get(f"{API}/datasets/{other}").json()["image_count"] == 0
    assert client.get(im["file_url"]).status_code == 200  # the file is shared, still there
    assert client.delete(f"{API}/datasets/{other}").status_code == 204
    assert client.get(f"{API}/datasets/{other}").status_code == 404
    assert [d["name"] for d in client.get(f"{API}/datasets").json()] == ["scenes"]


def test_data_route_errors(client, dataset):
    ds = dataset[0]
    assert client.post(f"{API}/datasets", json={"name": "scenes"}).status_code == 409
    assert client.post(f"{API}/datasets", json={}).status_code == 422
    for path in ("/datasets/999", "/datasets/999/images", f"/datasets/{ds}/images/999",
                 f"/datasets/{ds}/images/999/thumbnail", "/jobs/999", "/jobs/999/files/x",
                 "/models/nope"):  # fmt: skip
        r = client.get(API + path)
        assert r.status_code == 404 and r.json()["status"] == 404, path
    assert client.delete(f"{API}/datasets/999").status_code == 404
    assert client.get(f"{API}/datasets/{2**70}/images/1").status_code == 422  # no overflow
    r = client.post(f"{API}/jobs", json={"kind": "train", "params": {"dataset_id": 2**70}})
    assert r.status_code == 400
    assert client.post(f"{API}/models/nope/select").status_code == 404
    bad = client.get(f"{API}/datasets/{ds}/images", params={"skin_tone": "green"})
    assert bad.status_code == 400 and "skin_tone" in bad.json()["error"]
    assert client.get(f"{API}/datasets/{ds}/images", params={"limit": 0}).status_code == 422
    assert client.get(f"{API}/datasets/{ds}/images", params={"gender": "x"}).status_code == 422
    big = [("files", ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(6 << 20), "image/png"))]
    assert client.post(f"{API}/datasets/{ds}/images", files=big).status_code == 413
    text = [("file", ("clip.mp4", b"hello, not a video" * 10, "video/mp4"))]
    assert client.post(f"{API}/jobs/upload", files=text).status_code == 415
    r = client.post(f"{API}/jobs", json={"kind": "mine", "params": {}})
    assert r.status_code == 400 and "unknown job kind" in r.json()["error"]
    r = client.post(f"{API}/jobs", json={"kind": "train", "params": {"dataset_id": 999}})
    assert r.status_code == 400 and "no dataset" in r.json()["error"]
    options = {"dataset_id": ds, "options": {"gallery": "/"}}
    r = client.post(f"{API}/jobs", json={"kind": "anonymize_dataset", "params": options})
    assert r.status_code == 400 and "forbidden" in r.json()["error"]


def wait_job(client, job_id, statuses=("done", "failed", "cancelled"), timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"{API}/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(client.get(f"{API}/jobs/{job_id}").json())


def test_dataset_anonymisation_job_makes_a_zip_and_a_new_dataset(client, dataset):
    ds = dataset[0]
    params = {"dataset_id": ds, "split": "test", "method": "pixelate", "new_dataset": "veiled"}
    r = client.post(f"{API}/jobs", json={"kind": "anonymize_dataset", "params": params})
    assert r.status_code == 201 and r.json()["status"] == "queued"
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["progress"] == 100 and job["result"]["images"] == 3 and not job["result"]["failed"]
    links = {f["name"]: f["url"] for f in job["files"]}
    archive = zipfile.ZipFile(io.BytesIO(client.get(links["anonymized.zip"]).content))
    assert len(archive.namelist()) == 3
    new = client.get(f"{API}/datasets/{job['result']['dataset_id']}/images").json()
    assert new["total"] == 3
    before = client.get(f"{API}/datasets/{ds}/images", params={"split": "test"}).json()
    assert sum(i["face_count"] for i in new["items"]) < sum(
        i["face_count"] for i in before["items"]
    )  # pixelated faces are (mostly) no longer found
    for name in ("../../faceveil.db", "%2e%2e%2f%2e%2e%2ffaceveil.db", "%2Fetc%2Fpasswd"):
        # the client may collapse the dots before sending (then the route does not match)
        assert client.get(f"{API}/jobs/{job['id']}/files/{name}").status_code in (404, 422), name
    assert client.post(f"{API}/jobs/{job['id']}/resume").status_code == 409
    listed = client.get(f"{API}/jobs", params={"kind": "anonymize_dataset"}).json()
    assert listed["total"] >= 1 and listed["items"][0]["id"] == job["id"]


def test_video_job_over_http(client, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", n=12, audio=False, location=None)
    r = client.post(
        f"{API}/jobs/upload",
        files={"file": ("c.mp4", clip.read_bytes(), "video/mp4")},
        data={"kind": "anonymize_video", "params": json.dumps({"method": "solid"})},
    )
    assert r.status_code == 201, r.text
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "done", job["error"]
    video = client.get(next(f["url"] for f in job["files"] if f["name"] == "anonymized.mp4"))
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert job["result"]["report"]["kind"] == "video"
    queued = client.post(f"{API}/jobs/upload", files={"file": ("c.mp4", clip.read_bytes())})
    cancelled = client.delete(f"{API}/jobs/{queued.json()['id']}").json()
    assert cancelled["cancel_requested"]
    assert wait_job(client, cancelled["id"])["status"] == "cancelled"
    assert client.post(f"{API}/jobs/{cancelled['id']}/resume").json()["status"] == "queued"
    assert wait_job(client, cancelled["id"])["status"] == "done"


def test_models_list_licences_and_selection(client):
    models = client.get(f"{API}/models").json()
    dcgan = next(m for m in models if m["name"] == "dcgan64")
    assert dcgan["selected"] and "non-commercial" in dcgan["licence"]
    assert dcgan["resolution"] == 64 and dcgan["source"] == "library"
    store = client.app.state.store
    assert store.selected_generator() == "dcgan64"
    assert client.post(f"{API}/models/dcgan64/select").json()["selected"]
    assert [m["name"] for m in client.get(f"{API}/models").json() if m["selected"]] == ["dcgan64"]


def test_training_job_over_http_registers_a_selectable_model(client, monkeypatch, tmp_path):
    from faceveil.gen import get_generator

    monkeypatch.setenv("FACEVEIL_MODELS", str(tmp_path / "home"))
    ds = client.post(f"{API}/datasets", json={"name": "crops"}).json()["id"]
    files = [("files", (f"{i}.png", encode_image(f, ".png")))
             for i, f in enumerate(get_generator().sample(16, seed=5))]  # fmt: skip
    assert len(client.post(f"{API}/datasets/{ds}/images", files=files).json()["added"]) == 16
    params = {"dataset_id": ds, "name": "tiny-api", "prepare": False, "epochs": 2, "res": 32,
              "width": 8, "latent_dim": 16, "batch": 8, "template_samples": 16}  # fmt: skip
    job = client.post(f"{API}/jobs", json={"kind": "train", "params": params}).json()
    job = wait_job(client, job["id"])
    assert job["status"] == "done", job["error"]
    assert "epoch 1/2" in job["log"] and "epoch 2/2" in job["log"]
    links = {f["name"]: f["url"] for f in job["files"]}
    assert {"losses.png", "samples/epoch_0001.png", "samples/epoch_0002.png"} <= set(links)
    plot = client.get(links["losses.png"])
    assert plot.headers["content-type"] == "image/png" and plot.content[:4] == b"\x89PNG"
    again = client.post(f"{API}/jobs", json={"kind": "train", "params": params})
    assert again.status_code == 400 and "exists already" in again.json()["error"]
    model = client.post(f"{API}/models/tiny-api/select").json()
    assert model["source"] == "trained" and model["job_id"] == job["id"] and model["selected"]
    chosen = client.app.state.store.selected_generator()
    assert get_generator(chosen).info.name == "tiny-api"
    client.post(f"{API}/models/dcgan64/select")
