"""The model selected on the Models page is the one /generate and the other latent routes use
when a request names none (the bug: the selection was stored and never read)."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

import faceveil.gen.registry as registry
from faceveil.server.app import create_app
from faceveil.server.models_db import ModelRecord
from faceveil.server.settings import Settings


def test_generator_routes_use_the_selected_model(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    shutil.copytree(registry.model_dirs()["dcgan64"], mine)
    loaded = []
    real = registry.get_generator

    def spy(name_or_dir=None, *args, **kwargs):
        loaded.append(None if name_or_dir is None else str(name_or_dir))
        return real(name_or_dir, *args, **kwargs)

    monkeypatch.setattr(registry, "get_generator", spy)
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        with client.app.state.store.session() as s:
            s.add(ModelRecord(name="mine", source="trained", path=str(mine), arch="dcgan"))
        assert client.post("/api/v1/models/mine/select").status_code == 200
        r = client.post("/api/v1/generate", json={"n": 1, "size": 64})
        assert r.status_code == 200, r.text
        assert loaded and set(loaded) == {str(mine)}
        loaded.clear()
        assert client.post("/api/v1/models/dcgan64/select").status_code == 200
        assert client.post("/api/v1/generate", json={"n": 1, "size": 64}).status_code == 200
        assert set(loaded) == {"dcgan64"}
