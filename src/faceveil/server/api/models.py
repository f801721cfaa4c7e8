"""Models: the generators faceveil knows (built in, in the model home, registered) and the
ones trained here, with their metadata and licences; select the default one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from faceveil.server.errors import ApiError
from faceveil.server.models_db import ModelRecord
from faceveil.server.store import Store, get_store

router = APIRouter(tags=["models"])
StoreDep = Annotated[Store, Depends(get_store)]


class ModelOut(BaseModel):
    name: str
    arch: str
    resolution: int
    latent_dim: int | None = None
    source: str = Field(description="library (built in or registered) | trained (here)")
    licence: str = Field(description="terms of the weights and of their training data")
    training_data: str = ""
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    selected: bool
    job_id: int | None = Field(None, description="the training job, for trained models")
    metadata: dict[str, Any] = Field(default_factory=dict)


def _models(store: Store) -> list[ModelOut]:
    from faceveil.gen.registry import DEFAULT_GENERATOR, list_generators

    with store.session() as s:
        records = {r.name: r for r in s.scalars(select(ModelRecord))}
    chosen = next((n for n, r in records.items() if r.selected), DEFAULT_GENERATOR)
    out: dict[str, ModelOut] = {}
    for info in list_generators():
        meta = info.to_dict()
        meta.pop("landmark_template", None)
        rec = records.get(info.name)
        out[info.name] = ModelOut(
            name=info.name,
            arch=info.arch,
            resolution=info.resolution,
            latent_dim=info.latent_dim,
            source=rec.source if rec else "library",
            licence=info.licence,
            training_data=info.training_data,
            description=info.description,
            tags={str(k): str(v) for k, v in info.tags.items()},
            selected=info.name == chosen,
            job_id=rec.job_id if rec else None,
            metadata=meta,
        )
    for name, rec in records.items():  # trained here but not (or no longer) registered
        if name in out or rec.source != "trained":
            continue
        meta = {k: v for k, v in (rec.meta or {}).items() if k != "landmark_template"}
        out[name] = ModelOut(
            name=name,
            arch=rec.arch,
            resolution=rec.resolution,
            latent_dim=meta.get("latent_dim"),
            source="trained",
            licence=str(meta.get("licence", "")),
            training_data=str(meta.get("training_data", "")),
            description=str(meta.get("description", "")),
            tags={str(k): str(v) for k, v in (meta.get("tags") or {}).items()},
            selected=name == chosen,
            job_id=rec.job_id,
            metadata=meta,
        )
    return sorted(out.values(), key=lambda m: (m.source != "library", m.name))


@router.get("/models", response_model=list[ModelOut])
def list_models(store: StoreDep) -> list[ModelOut]:
    """Every generator with its metadata and licence; ``selected`` marks the default."""
    return _models(store)


@router.get("/models/{name}", response_model=ModelOut)
def get_model(name: str, store: StoreDep) -> ModelOut:
    found = next((m for m in _models(store) if m.name == name), None)
    if found is None:
        raise ApiError(404, f"no model {name[:100]!r}")
    return found


@router.post("/models/{name}/select", response_model=ModelOut)
def select_model(name: str, store: StoreDep) -> ModelOut:
    """Make `name` the generator that /generate, /invert, /mix and /edit use by default."""
    found = next((m for m in _models(store) if m.name == name), None)
    if found is None:
        raise ApiError(404, f"no model {name[:100]!r}")
    with store.session() as s:
        s.execute(update(ModelRecord).values(selected=False))
        rec = s.scalars(select(ModelRecord).where(ModelRecord.name == name)).first()
        if rec is None:  # a library model gets a row to hold the selection
            rec = ModelRecord(
                name=name, source="library", arch=found.arch, resolution=found.resolution
            )
            s.add(rec)
        rec.selected = True
    return found.model_copy(update={"selected": True})
