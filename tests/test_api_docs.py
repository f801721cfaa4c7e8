"""/docs and /redoc load only local assets (they must work without network)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from faceveil.server.app import create_app
from faceveil.server.settings import Settings
from test_browser import browser, page, studio  # noqa: F401  (Chromium fixtures)

URL = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, run_worker=False))) as c:
        yield c


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_use_only_local_assets(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = [a or b for a, b in URL.findall(r.text)]
    assert any(u.endswith(".js") for u in urls), urls  # the page does load its script
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", r.text), "external reference"
    for url in urls:
        assert url.startswith("/"), url
        got = client.get(url)
        assert got.status_code == 200, url
        assert len(got.content) > 100, url
    scripts = [u for u in urls if u.endswith(".js")]
    for url in scripts:
        assert "javascript" in client.get(url).headers["content-type"], url
    assert "/openapi.json" in urls or "'/openapi.json'" in r.text  # the spec, local too


def test_swagger_ui_reads_openapi_31(client):
    """Swagger UI 4 cannot render OpenAPI 3.1 (what FastAPI writes): the bundle is 5.x."""
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    bundle = client.get("/docs-static/swagger-ui-bundle.js").text
    assert "isOAS31" in bundle


def test_swagger_ui_renders_in_chromium_without_network(page, studio):  # noqa: F811
    """Chromium renders every operation of /docs, and requests nothing outside the studio."""
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(studio) else outside.append(r.url))
    page.goto(f"{studio}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 30  # every documented operation is listed
    assert page.get_by_text("/api/v1/gallery/search", exact=True).count() >= 1
    assert outside == []
