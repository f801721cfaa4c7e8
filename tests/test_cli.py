"""The `faceveil` command, run as a subprocess: names, formats, exit codes, reports, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import (
    ASTRO_BOX,
    GPS_LATITUDE,
    exif_of,
    gps_of,
    inner_slices,
    iou,
    jpeg_with_exif,
    leftovers,
    norm_diff,
)
from faceveil.io import read_image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
FACE = inner_slices(ASTRO_BOX, 0.6)


def _save(pixels: np.ndarray, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kw)
    return path


def _face_hidden(original: np.ndarray, path: Path) -> bool:
    out = read_image(path)
    return out.shape == original.shape and norm_diff(out[FACE], original[FACE]) > 0.05


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


# --------------------------------------------------------------------------- detect


def test_detect_json_format(run_cli, astronaut, tmp_path):
    img = _save(astronaut, tmp_path / "astro.png")
    proc = run_cli("detect", img, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["faces"]
    assert len(data["faces"]) == 1
    face = data["faces"][0]
    assert set(face) >= {"box", "score", "landmarks"}
    assert len(face["box"]) == 4 and all(isinstance(v, int | float) for v in face["box"])
    assert iou(face["box"], ASTRO_BOX) > 0.8
    assert 0.6 <= face["score"] <= 1.0
    assert np.asarray(face["landmarks"]).shape == (5, 2)
    # Eyes (0, 1) inside the box's upper half, right eye (subject's) on the image's left.
    (rx, ry), (lx, ly) = face["landmarks"][:2]
    x, y, w, h = face["box"]
    assert x < rx < lx < x + w and y < ry < y + h / 2


def test_detect_no_faces_and_text_output(run_cli, tmp_path):
    rng = np.random.default_rng(5)
    img = _save(rng.integers(0, 256, (100, 120, 3), dtype=np.uint8), tmp_path / "noise.png")
    proc = run_cli("detect", img, "--json", "-")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"faces": []}
    proc = run_cli("detect", img)
    assert proc.returncode == 0 and "0 face" in proc.stdout


def test_detect_thresh_filters_faces(run_cli, astronaut, tmp_path):
    img = _save(astronaut, tmp_path / "astro.png")
    proc = run_cli("detect", img, "--json", "-", "--thresh", "0.99")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"faces": []}


def test_detect_bad_file_one_line_error(run_cli, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    proc = run_cli("detect", bad, "--json", "-")
    assert proc.returncode == 1
    _no_traceback(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.jpg" in lines[0]
    assert proc.stdout == ""


# --------------------------------------------------------------------------- anonymize: naming


def test_default_output_name(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "photo.jpg", quality=95)
    before = src.read_bytes()
    proc = run_cli("anonymize", src, "-q")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "photo_anonymized.jpg"
    assert out.is_file()
    assert out.read_bytes()[:3] == JPEG_MAGIC
    assert _face_hidden(astronaut, out)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "photo_anonymized.jpg"]


def test_relative_paths_from_cwd(run_cli, astronaut, tmp_path):
    _save(astronaut, tmp_path / "photo.png")
    proc = run_cli("anonymize", "photo.png", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "photo_anonymized.png").is_file()


def test_output_extension_picks_the_format(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "in.jpg", quality=95)
    out = tmp_path / "out.png"
    proc = run_cli("anonymize", src, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert _face_hidden(read_image(src), out)
    out_jpg = tmp_path / "back.jpg"
    assert run_cli("anonymize", out, "-o", out_jpg, "-q").returncode == 0
    assert out_jpg.read_bytes()[:3] == JPEG_MAGIC


def test_folder_input_mirrors_the_tree(run_cli, astronaut, tmp_path):
    root = tmp_path / "photos"
    files = {
        "top.jpg": {"quality": 95},
        "sub/mid.png": {},
        "sub/deeper/low.jpeg": {"quality": 95},
        "sub/deeper/lower.webp": {"quality": 95},
        "other/x.tif": {},
    }
    for rel, kw in files.items():
        _save(astronaut, root / rel, **kw)
    (root / "notes.txt").write_text("not media")
    proc = run_cli("anonymize", root, "-q")
    assert proc.returncode == 0, proc.stderr
    out_root = tmp_path / "photos_anonymized"
    written = sorted(str(p.relative_to(out_root)) for p in out_root.rglob("*") if p.is_file())
    assert written == sorted(files)
    magic = {".jpg": JPEG_MAGIC, ".jpeg": JPEG_MAGIC, ".png": PNG_MAGIC, ".webp": b"RIFF"}
    for rel in files:
        out = out_root / rel
        if out.suffix in magic:
            assert out.read_bytes().startswith(magic[out.suffix]), rel
        else:
            assert out.read_bytes()[:2] in (b"II", b"MM"), rel
        assert _face_hidden(astronaut, out), rel
    # Running again does not descend into the output folder.
    proc = run_cli("anonymize", root, "-q", "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["files"]) == len(files)
    assert not (out_root / "photos_anonymized").exists()
    assert leftovers(tmp_path) == []


def test_folder_input_with_output_folder(run_cli, astronaut, tmp_path):
    root = tmp_path / "in"
    _save(astronaut, root / "a.png")
    _save(astronaut, root / "nested" / "b.jpg", quality=95)
    out = tmp_path / "elsewhere"
    proc = run_cli("anonymize", root, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.png").is_file() and (out / "nested" / "b.jpg").is_file()


def test_several_inputs_into_output_folder(run_cli, astronaut, tmp_path):
    a = _save(astronaut, tmp_path / "a.jpg", quality=95)
    b = _save(astronaut, tmp_path / "b.png")
    out = tmp_path / "outdir"
    proc = run_cli("anonymize", a, b, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.png"]
    assert (out / "b.png").read_bytes()[:8] == PNG_MAGIC
    assert _face_hidden(astronaut, out / "b.png")


def test_single_input_into_existing_folder(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "a.png")
    out = tmp_path / "outdir"
    out.mkdir()
    proc = run_cli("anonymize", src, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert (out / "a.png").is_file()


# --------------------------------------------------------------------------- overwrite


def test_never_overwrites_input_without_flag(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "same.png")
    before = src.read_bytes()
    proc = run_cli("anonymize", src, "-o", src, "-q")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "same.png" in proc.stderr and "overwrite" in proc.stderr
    assert src.read_bytes() == before
    assert leftovers(tmp_path) == []

    proc = run_cli("anonymize", src, "-o", src, "-q", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert src.read_bytes() != before
    assert _face_hidden(astronaut, src)


def test_folder_onto_itself_is_refused(run_cli, astronaut, tmp_path):
    root = tmp_path / "d"
    src = _save(astronaut, root / "a.png")
    before = src.read_bytes()
    proc = run_cli("anonymize", root, "-o", root, "-q")
    assert proc.returncode == 1
    assert src.read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["a.png"]


# --------------------------------------------------------------------------- options


def test_json_report(run_cli, astronaut, tmp_path):
    a = _save(astronaut, tmp_path / "a.png")
    rng = np.random.default_rng(2)
    b = _save(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), tmp_path / "noface.png")
    report_path = tmp_path / "report.json"
    proc = run_cli(
        "anonymize", a, b, "-o", tmp_path / "out", "-q", "-m", "pixelate", "--json", report_path
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    files = {Path(f["input"]).name: f for f in report["files"]}
    assert set(files) == {"a.png", "noface.png"}
    fa = files["a.png"]
    assert fa["method"] == "pixelate" and fa["status"] == "ok"
    assert Path(fa["output"]).name == "a.png" and Path(fa["output"]).parent.name == "out"
    assert fa["face_count"] == 1 and len(fa["faces"]) == 1
    assert iou(fa["faces"][0]["box"], ASTRO_BOX) > 0.8
    assert 0 < fa["faces"][0]["score"] <= 1
    assert isinstance(fa["seconds"], float) and 0 < fa["seconds"] < 60
    assert files["noface.png"]["face_count"] == 0 and files["noface.png"]["faces"] == []
    assert report["summary"]["inputs"] == 2 and report["summary"]["failed"] == 0
    assert report["summary"]["faces"] == 1


@pytest.mark.parametrize("method", ["blur", "pixelate", "solid", "image"])
def test_methods_via_cli(run_cli, astronaut, tmp_path, method):
    src = _save(astronaut, tmp_path / "a.png")
    out = tmp_path / "o.png"
    proc = run_cli("anonymize", src, "-o", out, "-q", "--method", method)
    assert proc.returncode == 0, proc.stderr
    result = read_image(out)
    assert _face_hidden(astronaut, out)
    assert np.array_equal(result[300:], astronaut[300:])  # far from the face: exact


def test_shape_mask_scale_thresh_and_max_side_are_used(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "a.png")

    def changed(*opts) -> int:
        out = tmp_path / "o.png"
        proc = run_cli("anonymize", src, "-o", out, "-q", "--overwrite", "-m", "solid", *opts)
        assert proc.returncode == 0, proc.stderr
        return int((read_image(out) != astronaut).any(axis=-1).sum())

    ellipse = changed("--shape", "ellipse", "--mask-scale", "1.3")
    box = changed("--shape", "box", "--mask-scale", "1.3")
    big = changed("--shape", "box", "--mask-scale", "2.0")
    assert 0 < ellipse < box < big
    assert changed("--thresh", "0.99") == 0  # the astronaut scores about 0.95
    assert changed("--max-side", "256") > 0


def test_color_option(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "a.png")
    out = tmp_path / "o.png"
    proc = run_cli("anonymize", src, "-o", out, "-q", "-m", "solid", "--color", "#ff00ff")
    assert proc.returncode == 0, proc.stderr
    r, c = int(ASTRO_BOX[1] + ASTRO_BOX[3] / 2), int(ASTRO_BOX[0] + ASTRO_BOX[2] / 2)
    assert tuple(read_image(out)[r, c]) == (255, 0, 255)


def test_metadata_stripped_unless_keep_metadata(run_cli, astronaut, tmp_path):
    src = tmp_path / "gps.jpg"
    src.write_bytes(jpeg_with_exif(astronaut))
    assert gps_of(src)
    plain, kept = tmp_path / "plain.jpg", tmp_path / "kept.jpg"
    assert run_cli("anonymize", src, "-o", plain, "-q").returncode == 0
    assert run_cli("anonymize", src, "-o", kept, "-q", "--keep-metadata").returncode == 0
    assert exif_of(plain) == {} and gps_of(plain) == {}
    assert gps_of(kept)[2] == GPS_LATITUDE
    assert b"FaceveilTestCam" not in plain.read_bytes()


# --------------------------------------------------------------------------- errors


def test_bad_inputs_in_a_batch(run_cli, astronaut, tmp_path):
    good = _save(astronaut, tmp_path / "good.jpg", quality=95)
    good2 = _save(astronaut, tmp_path / "good2.png")
    jpeg = io.BytesIO()
    Image.fromarray(astronaut).save(jpeg, "JPEG")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(jpeg.getvalue()[:5000])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.jpg"
    text.write_text("hello, I am a text file\n")
    missing = tmp_path / "missing.jpg"
    report_path = tmp_path / "report.json"

    proc = run_cli(
        "anonymize", good, corrupt, empty, text, missing, good2, "-q", "--json", report_path
    )
    assert proc.returncode == 1
    _no_traceback(proc)
    for bad in (corrupt, empty, text, missing):
        assert bad.name in proc.stderr, bad.name
        assert not (tmp_path / f"{bad.stem}_anonymized{bad.suffix}").exists()
    assert "good.jpg" not in proc.stderr and "good2.png" not in proc.stderr
    assert _face_hidden(astronaut, tmp_path / "good_anonymized.jpg")
    assert _face_hidden(astronaut, tmp_path / "good2_anonymized.png")
    assert leftovers(tmp_path) == []
    report = json.loads(report_path.read_text())
    status = {Path(f["input"]).name: f["status"] for f in report["files"]}
    assert status == {
        "good.jpg": "ok",
        "good2.png": "ok",
        "corrupt.jpg": "failed",
        "empty.jpg": "failed",
        "text.jpg": "failed",
        "missing.jpg": "failed",
    }
    assert report["summary"]["failed"] == 4
    for f in report["files"]:
        if f["status"] == "failed":
            assert f["error"] and "\n" not in f["error"]


def test_only_bad_input_exit_1_one_line(run_cli, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("plain text")
    proc = run_cli("anonymize", text, "-o", tmp_path / "out.jpg", "-q")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert "notes.jpg" in proc.stderr
    assert not (tmp_path / "out.jpg").exists()
    assert leftovers(tmp_path) == []


def test_empty_folder_is_an_error(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_cli("anonymize", tmp_path / "empty", "-q")
    assert proc.returncode == 1
    _no_traceback(proc)


@pytest.mark.parametrize(
    "opts",
    [
        ["--method", "smudge"],
        ["--mask-scale", "abc"],
        ["--mask-scale", "0"],
        ["--mask-scale", "100"],
        ["--shape", "triangle"],
        ["--thresh", "1.5"],
        ["--color", "purple"],
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_2(run_cli, astronaut, tmp_path, opts):
    src = _save(astronaut, tmp_path / "a.png")
    proc = run_cli("anonymize", src, *opts)
    assert proc.returncode == 2, (opts, proc.returncode, proc.stderr)
    _no_traceback(proc)
    assert proc.stderr.strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # nothing written


def test_no_arguments_is_usage_error(run_cli):
    proc = run_cli("anonymize")
    assert proc.returncode == 2
    _no_traceback(proc)


def test_unwritable_output_extension_fails_cleanly(run_cli, astronaut, tmp_path):
    src = _save(astronaut, tmp_path / "a.png")
    proc = run_cli("anonymize", src, "-o", tmp_path / "out.gif", "-q")
    assert proc.returncode == 1
    _no_traceback(proc)
    assert not (tmp_path / "out.gif").exists()
    assert leftovers(tmp_path) == []
