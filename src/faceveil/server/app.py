"""The studio app: ``create_app()`` wires the API routers, the UI, the store and the worker."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from faceveil import __version__
from faceveil.server import (
    auth,
    docs,
    errors,
    limits,
    retention,
    security,
    store,
    ui,
    uploads,
)
from faceveil.server.api import datasets, gallery, jobs, models, restore, sync
from faceveil.server.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new studio app; `settings` default to :meth:`Settings.from_env`."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = store.open_store(settings)  # database (migrated) + file storage
        retention.sweep_due(app.state.store)  # results past FACEVEIL_RESULT_RETENTION_HOURS
        worker = store.start_worker(app.state.store) if settings.run_worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            app.state.store.close()

    app = FastAPI(
        title="faceveil studio",
        version=__version__,
        description="Detect, anonymise, analyse, audit and synthesise faces, offline.",
        lifespan=lifespan,
        openapi_url=None,  # served by docs.install, behind the token when there is one
        docs_url=None,  # served by docs.install with local assets (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.heavy = limits.HeavyGate(settings.max_heavy_requests)
    errors.install(app)
    app.add_middleware(uploads.BodyLimitMiddleware, settings=settings)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(auth.require_token)])
    for module in (sync, restore, jobs, datasets, models, gallery):
        api.include_router(module.router)
    app.include_router(api)
    ui.install(app)
    docs.install(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(security.SecurityMiddleware, settings=settings)  # outermost: sees all
    return app
