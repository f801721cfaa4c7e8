"""The studio's pages without a browser: every page renders, static files are served, and
the API token guards the pages (login form, cookie, no open redirect)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from faceveil.server.app import create_app
from faceveil.server.settings import Settings
from faceveil.server.ui import PAGES

SCRIPTS = ("anonymize", "analyze", "restore", "synthesize", "datasets", "models", "jobs")


def _client(tmp_path, **settings) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path, run_worker=False, **settings)))


def test_every_page_renders_with_its_script_and_navigation(tmp_path):
    with _client(tmp_path) as client:
        for path, name, label in PAGES:
            r = client.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html")
            assert f'src="/static/{name}.js"' in r.text
            assert f'<a href="{path}" aria-current="page">{label}</a>' in r.text
            assert "http://" not in r.text.replace("http://www.w3.org", "")  # no CDN
        for name in SCRIPTS:
            r = client.get(f"/static/{name}.js")
            assert r.status_code == 200 and "javascript" in r.headers["content-type"]
        assert client.get("/static/studio.css").status_code == 200
        assert client.get("/static/common.js").status_code == 200
        assert client.get("/static/../ui.py").status_code == 404


def test_pages_carry_server_side_choices(tmp_path):
    from faceveil.anonymize import METHODS

    with _client(tmp_path) as client:
        home = client.get("/").text
        for name in METHODS:
            assert f'<option value="{name}"' in home
        synth = client.get("/synthesize").text
        assert "non-commercial research use only" in synth
        datasets = client.get("/datasets").text
        assert '<option value="happy">' in datasets and 'name="skin_tone"' in datasets
        restore = client.get("/restore").text
        assert '<option value="dcgan64">' in restore and "not the person's real face" in restore


def test_token_guards_pages_and_login_sets_the_cookie(tmp_path):
    with _client(tmp_path, api_token="s3cret") as client:
        r = client.get("/datasets", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/datasets"
        assert client.get("/login").status_code == 200
        assert client.get("/static/studio.css").status_code == 200  # the login page's style
        r = client.post("/login", data={"token": "wrong", "next": "/datasets"})
        assert r.status_code == 401 and "Wrong token" in r.text
        assert "faceveil_token" not in r.headers.get("set-cookie", "")
        r = client.post(
            "/login", data={"token": "s3cret", "next": "/datasets"}, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/datasets"
        cookie = r.headers["set-cookie"]
        assert "faceveil_token=s3cret" in cookie and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert client.get("/datasets", follow_redirects=False).status_code == 200
        assert client.get("/api/v1/jobs").status_code == 200  # the API takes the cookie too
        r = client.get("/logout", follow_redirects=False)
        assert r.status_code == 303
        client.cookies.clear()
        assert client.get("/jobs", follow_redirects=False).status_code == 303


def test_bearer_header_opens_the_pages(tmp_path):
    with _client(tmp_path, api_token="s3cret") as client:
        headers = {"Authorization": "Bearer s3cret"}
        assert client.get("/models", headers=headers, follow_redirects=False).status_code == 200
        headers = {"Authorization": "Bearer nope"}
        assert client.get("/models", headers=headers, follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "\\\\evil", ""])
def test_login_never_redirects_off_site(tmp_path, target):
    with _client(tmp_path, api_token="t") as client:
        r = client.post("/login", data={"token": "t", "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_without_a_token_login_just_redirects(tmp_path):
    with _client(tmp_path) as client:
        r = client.post("/login", data={"token": "", "next": "/jobs"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/jobs"
        assert "set-cookie" not in r.headers
