"""Screenshots of every studio page into docs/studio_<page>.png, taken by Debian's Chromium
through Playwright on a studio started here with a fresh data directory.

Each page is used first, so the pictures show results: the demo photo anonymised with synth
and audited, the faces analysed and two faces verified, a slider moved, a filtered dataset,
a short training run, and the jobs list.

    .venv/bin/python scripts/studio_screenshots.py [--out docs] [--chromium /usr/bin/chromium]

About 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from faceveil.testing.studio import CHROMIUM_ARGS, start_studio

ROOT = Path(__file__).resolve().parents[1]


def make_inputs(folder: Path) -> dict[str, Path]:
    """The astronaut, the bundled demo scene and a few DCGAN faces (nobody real but the
    public-domain astronaut)."""
    from skimage import data

    import faceveil
    from faceveil.io.images import write_image
    from faceveil.testing import make_clip

    out = {"astronaut": folder / "astronaut.png", "demo": folder / "demo.jpg"}
    write_image(out["astronaut"], data.astronaut())
    out["astronaut2"] = folder / "astronaut_mirrored.png"  # the same person, another picture
    write_image(out["astronaut2"], data.astronaut()[20:300, 400:40:-1])
    out["demo"].write_bytes((ROOT / "src" / "faceveil" / "data" / "demo.jpg").read_bytes())
    for i, face in enumerate(faceveil.generate(8, seed=3, size=160)):
        out[f"face{i}"] = folder / f"face{i}.png"
        write_image(out[f"face{i}"], face)
    out["clip"] = folder / "clip.mp4"
    make_clip(out["clip"], seed=1, size=(640, 360), frames=50, n_faces=3, face_sizes=(50, 80))
    return out


def shoot(page, out: Path, name: str) -> None:
    path = out / f"studio_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def run(out: Path, chromium: str, only: set[str]) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = make_inputs(tmp)
        base, stop = start_studio(tmp / "data")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium, headless=True, args=CHROMIUM_ARGS
                )
                # wait_for_function evals in the page; the studio's CSP has no 'unsafe-eval'
                page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
                page.on(
                    "console",
                    lambda m: (
                        print(f"  console {m.type}: {m.text}")
                        if m.type in ("error", "warning")
                        else None
                    ),
                )
                if not only or "anonymize" in only:
                    _anonymize(page, base, inputs, out)
                if not only or "cloak" in only:
                    _cloak(page, base, inputs, out)
                if not only or "restore" in only:
                    _restore(page, base, inputs, out)
                if not only:
                    _analyze(page, base, inputs, out)
                    _synthesize(page, base, out)
                    _datasets(page, base, inputs, out)
                    _models(page, base, out)
                    page.goto(f"{base}/jobs")
                    page.wait_for_selector("#jobs-table tbody tr[data-job-id]")
                    shoot(page, out, "jobs")
                browser.close()
        finally:
            stop()


def _anonymize(page, base, inputs, out) -> None:
    page.goto(base + "/")
    page.get_by_label("Photo or video").set_input_files(str(inputs["demo"]))
    page.get_by_label("Method").select_option("synth")
    page.get_by_role("button", name="Anonymize").click()
    page.wait_for_selector("#audit-card:not([hidden])", timeout=180_000)
    page.get_by_label("Before/after split").fill("45")
    shoot(page, out, "anonymize")
    page.get_by_label("Photo or video").set_input_files(str(inputs["clip"]))
    page.get_by_label("Method").select_option("pixelate")
    page.get_by_role("button", name="Anonymize").click()
    page.wait_for_selector("#job-links a", timeout=300_000)
    shoot(page, out, "anonymize_video")


def _cloak(page, base, inputs, out) -> None:
    page.goto(base + "/")
    page.get_by_label("Photo or video").set_input_files(str(inputs["astronaut"]))
    page.get_by_label("Method").select_option("cloak")
    page.get_by_role("button", name="Anonymize").click()
    page.wait_for_selector("#audit-card:not([hidden])", timeout=300_000)
    shoot(page, out, "anonymize_cloak")


def _restore(page, base, inputs, out) -> None:
    from faceveil.io.images import write_image
    from faceveil.restore import occlude

    covered, _ = occlude(inputs["astronaut"], kind="surgical", seed=1)
    path = inputs["astronaut"].with_name("masked.png")
    write_image(path, covered)
    page.goto(base + "/restore")
    page.get_by_label("Photo").set_input_files(str(path))
    page.get_by_role("button", name="Restore").click()
    page.wait_for_selector("#restore-result:not([hidden])", timeout=180_000)
    page.wait_for_function("document.querySelector('#step-result').naturalWidth > 0")
    shoot(page, out, "restore")


def _analyze(page, base, inputs, out) -> None:
    page.goto(base + "/analyze")
    page.get_by_label("Photo to analyze").set_input_files(str(inputs["demo"]))
    page.get_by_role("button", name="Analyze", exact=True).click()
    page.wait_for_selector("#faces-table tbody tr", timeout=120_000)
    page.get_by_label("First face").set_input_files(str(inputs["astronaut"]))
    page.get_by_label("Second face").set_input_files(str(inputs["astronaut2"]))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_selector("#verify-result:not([hidden])", timeout=60_000)
    shoot(page, out, "analyze")


def _slider_timing(page, moves: int = 40) -> None:
    """Move the age slider `moves` times; print the times the page shows (server, request)."""
    import re
    import statistics

    server, request = [], []
    for i in range(moves):
        src = page.locator("#face-img").get_attribute("src")
        page.get_by_label("age (+ older)").fill(f"{-2 + 4 * (i + 1) / moves:.1f}")
        page.wait_for_function(
            f"document.querySelector('#face-img').getAttribute('src') !== {src!r}"
            " && document.querySelector('#face-img').complete",
            timeout=10_000,
        )
        ms = [int(v) for v in re.findall(r"(\d+) ms", page.locator("#edit-timing").inner_text())]
        server.append(ms[0])
        request.append(ms[1])
    print(
        f"slider updates ({moves}): server median {statistics.median(server):.0f} ms"
        f" (max {max(server)}), request median {statistics.median(request):.0f} ms"
        f" (max {max(request)})"
    )


def _synthesize(page, base, out) -> None:
    page.goto(base + "/synthesize")
    page.wait_for_selector("#slider-age")
    page.wait_for_function("document.querySelector('#face-img').naturalWidth > 0")
    _slider_timing(page)
    page.get_by_label("age (+ older)").fill("2")
    page.get_by_label("smile (+ smiling)").fill("1.5")
    page.get_by_role("button", name="Random face B").click()
    page.wait_for_function("document.querySelector('#mix-out').naturalWidth > 0", timeout=30_000)
    time.sleep(0.5)
    shoot(page, out, "synthesize")


def _datasets(page, base, inputs, out) -> int:
    page.goto(base + "/datasets")
    page.get_by_label("Name").fill("demo-faces")
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_selector("#dataset-select option:has-text('demo-faces')", state="attached")
    names = ["astronaut", "demo"] + [f"face{i}" for i in range(8)]
    page.get_by_label("Images or a zip").set_input_files([str(inputs[n]) for n in names])
    page.get_by_label("Split").first.select_option("train")
    page.get_by_label("Tags (comma-separated)").fill("demo")
    page.get_by_role("button", name="Import").click()
    page.wait_for_function(
        "document.querySelectorAll('#grid .thumb').length >= 10", timeout=180_000
    )
    page.get_by_label("Gender").select_option("female")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_timeout(800)
    shoot(page, out, "datasets")
    page.locator("#grid .thumb").first.click()
    page.wait_for_selector("#detail[open]")
    page.wait_for_timeout(300)
    shoot(page, out, "datasets_detail")
    page.keyboard.press("Escape")
    return int(page.get_by_label("Dataset", exact=True).input_value())


def _models(page, base, out) -> None:
    page.goto(base + "/models")
    page.wait_for_selector("#models-table tbody tr")
    page.get_by_label("Model name").fill("demo-vae32")
    page.get_by_label("Architecture").select_option("vae")
    page.get_by_label("Split").select_option("")
    page.get_by_label("Epochs").fill("40")
    page.get_by_label("Resolution").select_option("32")
    page.get_by_label("Batch").fill("8")
    page.get_by_label("Width").fill("32")
    page.get_by_label("Licence of the training data").fill("DCGAN samples, public-domain astronaut")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector("#train-badge .badge.done, #train-badge .badge.failed", timeout=300_000)
    page.wait_for_timeout(800)
    shoot(page, out, "models")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--only", default="", help="comma-separated: anonymize, cloak, restore")
    args = ap.parse_args()
    if not Path(args.chromium).exists():
        raise SystemExit(f"{args.chromium} is missing: apt-get install -y chromium")
    run(args.out, args.chromium, set(filter(None, args.only.split(","))))


if __name__ == "__main__":
    main()
