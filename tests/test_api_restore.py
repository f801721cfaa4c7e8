"""``POST /api/v1/restore``: the image, or JSON with the report and the four steps linked."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
from fastapi.testclient import TestClient
from PIL import Image

from faceveil.server.app import create_app
from faceveil.server.settings import Settings

API = "/api/v1"


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def covered():
    from faceveil.restore import occlude

    image, truth = occlude(skimage.data.astronaut(), kind="n95", seed=2)
    return image, truth


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, run_worker=False))) as c:
        yield c


def test_restore_json_links_the_four_steps_and_changes_only_the_covering(client, covered):
    image, truth = covered
    r = client.post(
        f"{API}/restore", params={"format": "json"}, files={"file": ("m.png", _png(image))}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "not the person's real face" in body["note"] and body["filled"] == 1
    assert set(body["steps"]) == {"generated", "smoothed", "mask", "result"}
    out = np.asarray(Image.open(io.BytesIO(client.get(body["result"]["url"]).content)))
    mask = np.asarray(Image.open(io.BytesIO(client.get(body["steps"]["mask"]["url"]).content)))
    mask = mask[..., 0] > 127 if mask.ndim == 3 else mask > 127
    assert np.array_equal(out[~mask], image[~mask])
    assert (mask & truth).sum() / (mask | truth).sum() > 0.5
    # the default answer is the image itself, the same bytes as the linked result
    png = client.post(f"{API}/restore", files={"file": ("m.png", _png(image))})
    assert png.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.content))), out)


def test_restore_errors(client, covered):
    image, _ = covered
    files = {"file": ("m.png", _png(image))}
    bad = client.post(f"{API}/restore", files={"file": ("x.png", b"not an image")})
    assert bad.status_code == 415 and "Traceback" not in bad.text
    assert client.post(f"{API}/restore", files=files, data={"model": "nope"}).status_code == 404
    assert client.post(f"{API}/restore", files=files, data={"smooth_k": "1"}).status_code == 422
    assert "/api/v1/restore" in client.get("/openapi.json").json()["paths"]
