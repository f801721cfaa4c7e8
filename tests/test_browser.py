"""Real-browser tests of the studio: Debian's Chromium driven by Playwright against the app
served by uvicorn on 127.0.0.1 (a free port) with a fresh data directory.

Skipped when /usr/bin/chromium or the playwright package is missing.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from faceveil.testing.studio import CHROMIUM, CHROMIUM_ARGS, start_studio

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """Base URL of a studio running in a thread (worker on)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    url, stop = start_studio(tmp_path_factory.mktemp("studio"))
    yield url
    stop()


@pytest.fixture(scope="module")
def browser(studio):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    # Playwright's wait_for_function evals its predicate in the page, which the studio's CSP
    # (no 'unsafe-eval') refuses; test_server_security.py loads the pages under the real policy.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).save(path)
    return path


def _image_at(page, url: str) -> np.ndarray:
    """The pixels the browser fetched for `url` (same cookies as the page)."""
    response = page.request.get(url)
    assert response.ok, f"{url}: {response.status}"
    return np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB")).astype(np.int16)


def test_anonymize_photo_shows_a_different_image(studio, page, astronaut):
    page.goto(studio + "/")
    page.get_by_label("Photo or video").set_input_files(str(astronaut))
    page.get_by_label("Method").select_option("pixelate")
    page.get_by_role("button", name="Anonymize").click()
    page.wait_for_function(
        "document.querySelector('#after-img').complete"
        " && document.querySelector('#after-img').naturalWidth > 0",
        timeout=60_000,
    )
    after_url = page.locator("#download").get_attribute("href")
    assert after_url.startswith("/api/v1/files/")
    original = np.asarray(Image.open(astronaut).convert("RGB")).astype(np.int16)
    result = _image_at(page, studio + after_url)
    assert result.shape == original.shape
    diff = np.abs(result - original).sum(axis=2)
    x, y, w, h = 180, 66, 90, 111  # the astronaut's face: pixelated
    assert diff[y : y + h, x : x + w].mean() > 10
    assert (diff[400:, :100] == 0).all()  # far from the face: untouched
    # the audit card reports the face as hidden
    page.wait_for_selector("#audit-card:not([hidden])", timeout=60_000)
    assert page.locator("#m-detect .value").inner_text().endswith("/ 1")
    assert "0 of 1 face(s) re-identified" in page.locator("#audit-summary").inner_text()


def test_cloak_audit_shows_both_recognizers(studio, page, astronaut):
    page.goto(studio + "/")
    page.get_by_label("Photo or video").set_input_files(str(astronaut))
    page.get_by_label("Method").select_option("cloak")
    page.get_by_label("Budget").select_option("high")
    page.get_by_role("button", name="Anonymize").click()
    page.wait_for_selector("#audit-card:not([hidden])", timeout=180_000)
    # SFace (optimised against) and dlib (never seen) side by side, with the cloak's own report
    summary = page.locator("#audit-summary").inner_text()
    assert "by SFace" in summary and "by dlib" in summary, summary
    assert float(page.locator("#m-dlib .value").inner_text()) > 0
    assert float(page.locator("#m-reid .value").inner_text()) < 0.363
    details = page.locator("#face-details").inner_text()
    assert "DSSIM" in details and "budget high" in details, details


def test_restore_shows_the_four_steps(studio, page, tmp_path):
    from faceveil.restore import occlude

    covered, _ = occlude(skimage.data.astronaut(), kind="surgical", seed=1)
    path = tmp_path / "masked.png"
    Image.fromarray(covered).save(path)
    page.goto(studio + "/restore")
    page.get_by_label("Photo").set_input_files(str(path))
    page.get_by_role("button", name="Restore").click()
    page.wait_for_selector("#restore-result:not([hidden])", timeout=120_000)
    for step in ("generated", "smoothed", "mask", "result"):
        page.wait_for_function(
            f"document.querySelector('#step-{step}').complete"
            f" && document.querySelector('#step-{step}').naturalWidth > 0",
            timeout=30_000,
        )
    assert "not the person's real face" in page.locator("#restore-note").inner_text()
    assert "filled by dcgan64" in page.locator("#restore-faces").inner_text()
    result = _image_at(page, studio + page.locator("#restore-download").get_attribute("href"))
    mask = _image_at(page, page.locator("#step-mask").evaluate("img => img.src"))[..., 0] > 127
    assert np.array_equal(result[~mask], covered[~mask].astype(np.int16))


def test_synthesize_slider_changes_the_face(studio, page):
    page.goto(studio + "/synthesize")
    face = page.locator("#face-img")
    page.wait_for_function("document.querySelector('#face-img').naturalWidth > 0", timeout=60_000)
    before_url = face.get_attribute("src")
    before = _image_at(page, studio + before_url)
    page.get_by_label("age (+ older)").fill("2.5")
    page.wait_for_function(
        f"document.querySelector('#face-img').getAttribute('src') !== {before_url!r}",
        timeout=30_000,
    )
    after = _image_at(page, studio + face.get_attribute("src"))
    assert before.shape == after.shape == (256, 256, 3)
    assert np.abs(after - before).mean() > 3
    assert "ms" in page.locator("#edit-timing").inner_text()
    # Reset brings the first face back, pixel for pixel
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function(
        f"document.querySelector('#face-img').getAttribute('src') === {before_url!r}",
        timeout=30_000,
    )


def test_dataset_filter_changes_the_grid(studio, page, astronaut, tmp_path):
    blank = tmp_path / "no_face.png"  # a gradient: no face
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    Image.fromarray(np.dstack([np.tile(ramp, (256, 1))] * 3)).save(blank)
    page.goto(studio + "/datasets")
    page.get_by_label("Name").fill("browser-test")
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_selector("#dataset-select option:has-text('browser-test')", state="attached")
    page.get_by_label("Images or a zip").set_input_files([str(astronaut), str(blank)])
    page.get_by_role("button", name="Import").click()
    thumbs = page.locator("#grid .thumb")
    page.wait_for_function("document.querySelectorAll('#grid .thumb').length === 2", timeout=60_000)
    assert "2 image(s) match" in page.locator("#grid-info").inner_text()

    page.get_by_label("Min faces").fill("1")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function("document.querySelectorAll('#grid .thumb').length === 1")
    assert thumbs.first.get_attribute("aria-label") == "Image astronaut.png"

    page.get_by_label("Min faces").fill("")
    page.get_by_label("Gender").select_option("male")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_function("document.querySelectorAll('#grid .thumb').length === 0")
    assert "0 image(s) match" in page.locator("#grid-info").inner_text()

    page.get_by_role("button", name="Clear").click()
    page.wait_for_function("document.querySelectorAll('#grid .thumb').length === 2")
    # the detail of the astronaut lists her face
    page.get_by_role("button", name="Image astronaut.png").click()
    page.wait_for_selector("#detail[open]")
    assert page.locator("#detail-faces tbody tr").count() == 1
    assert "female" in page.locator("#detail-faces tbody").inner_text()
