"""The web UI: Jinja2 pages that call the REST API from small ES modules (no build step).

``install(app)`` mounts ``/static`` and adds the pages. When ``FACEVEIL_API_TOKEN`` is set,
every page needs the token like the API does (``Authorization: Bearer`` or the
``faceveil_token`` cookie); ``/login`` is a form that sets that cookie (5 wrong tokens a minute
per client address, then 429). Static files hold no data, so the login page can be styled.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from faceveil.server import auth
from faceveil.server.auth import client_address, token_throttle

HERE = Path(__file__).parent
COOKIE = auth.COOKIE
# path, template, navigation label
PAGES = (
    ("/", "anonymize", "Anonymize"),
    ("/analyze", "analyze", "Analyze"),
    ("/restore", "restore", "Restore"),
    ("/synthesize", "synthesize", "Synthesize"),
    ("/datasets", "datasets", "Datasets"),
    ("/models", "models", "Models"),
    ("/jobs", "jobs", "Jobs"),
)

templates = Jinja2Templates(directory=str(HERE / "templates"))


def _methods() -> list[tuple[str, str]]:
    from faceveil.anonymize import METHODS

    return [(name, getattr(fn, "description", "")) for name, fn in METHODS.items()]


def _train_archs() -> tuple[str, ...]:
    from faceveil.gen.choices import ARCH_NAMES

    return ARCH_NAMES


def _dataset_choices() -> dict:
    from faceveil.analysis import EMOTIONS

    try:
        from faceveil.server.image_meta import SKIN_TONE_NAMES
    except ImportError:  # the store's metadata module is optional for the page itself
        SKIN_TONE_NAMES = ()
    return {"emotions": EMOTIONS, "skin_tones": SKIN_TONE_NAMES, "methods": _methods()}


def _tokens_match(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no open redirect through ``?next=//evil``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page_handler(template: str):
    async def page(request: Request) -> Response:
        settings = request.app.state.settings
        if not auth.token_ok(request):
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        context = {
            "page": template,
            "pages": PAGES,
            "token_required": bool(settings.api_token),
        }
        if template == "anonymize":
            from faceveil.anonymize.options import form_fields

            context["methods"] = _methods()
            context["option_fields"] = [f for f in form_fields() if f["name"] != "method"]
        if template == "datasets":
            context.update(_dataset_choices())
        if template == "models":
            context["archs"] = _train_archs()
        if template == "restore":
            from faceveil.gen.registry import model_dirs

            context["generators"] = sorted(model_dirs())
        return templates.TemplateResponse(request, f"{template}.html", context)

    page.__name__ = f"page_{template}"
    return page


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    for path, template, _label in PAGES:
        app.add_api_route(
            path,
            _page_handler(template),
            methods=["GET"],
            response_class=HTMLResponse,
            include_in_schema=False,
        )

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> Response:
        context = {"page": "login", "pages": PAGES, "next": _safe_next(next), "error": None}
        return templates.TemplateResponse(request, "login.html", context)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
        settings = request.app.state.settings
        target = _safe_next(next)
        throttle, client = token_throttle(request), client_address(request)
        context = {"page": "login", "pages": PAGES, "next": target}
        if settings.api_token and (wait := throttle.retry_after(client)):
            context["error"] = f"Too many wrong tokens; try again in {wait} s."
            return templates.TemplateResponse(
                request, "login.html", context, status_code=429, headers={"Retry-After": str(wait)}
            )
        if settings.api_token and not _tokens_match(token, settings.api_token):
            throttle.failed(client)
            context["error"] = "Wrong token."
            return templates.TemplateResponse(request, "login.html", context, status_code=401)
        response = RedirectResponse(target, status_code=303)
        if settings.api_token:
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response
