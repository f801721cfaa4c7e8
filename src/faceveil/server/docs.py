"""``/docs`` (Swagger UI) and ``/redoc`` served with local assets, so they work offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN; the same files ship in the
``fastapi-offline`` package (Swagger UI 5, which reads OpenAPI 3.1) and are served from
``/docs-static`` here. With ``FACEVEIL_API_TOKEN`` set, the schema (``/openapi.json``) and both
pages need the token like the API does: they show the studio's version. The pages' one inline
script runs by a per-response nonce in their Content-Security-Policy.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from faceveil.server import auth
from faceveil.server.errors import error_response

STATIC_URL = "/docs-static"
OPENAPI_URL = "/openapi.json"
# Swagger UI and ReDoc style their widgets inline and ReDoc searches in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _with_nonce(page: HTMLResponse) -> HTMLResponse:
    """`page` with its inline scripts allowed by a fresh nonce, and only those."""
    nonce = secrets.token_urlsafe(16)
    html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP.format(nonce=nonce)})


def _login_first(request: Request) -> Response:
    target = quote(request.url.path, safe="/")
    return RedirectResponse(f"/login?next={target}", status_code=303)


def assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add /openapi.json, /docs, /docs/oauth2-redirect and /redoc; create the app with
    openapi_url=None, docs_url=None and redoc_url=None."""
    app.mount(STATIC_URL, StaticFiles(directory=assets_dir()), name="docs-static")
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi(request: Request) -> Response:
        if not auth.token_ok(request):
            return error_response(
                401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"}
            )
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> Response:
        if not auth.token_ok(request):
            return _login_first(request)
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{OPENAPI_URL}",
            title=f"{app.title} - API",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return _with_nonce(page)

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return _with_nonce(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> Response:
        if not auth.token_ok(request):
            return _login_first(request)
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{OPENAPI_URL}",
            title=f"{app.title} - API",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,  # fonts from Google would fail offline too
        )
        return _with_nonce(page)
