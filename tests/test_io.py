"""Image input/output: sources, EXIF orientation, bit depth, metadata stripping, atomic writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageCms

import faceveil
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
from faceveil.io import atomic_output, load_image, read_image, write_image

# The astronaut cropped to a portrait (512 rows x 384 columns); its face moves 64 px left.
PORTRAIT_COLS = slice(64, 448)
PORTRAIT_BOX = (ASTRO_BOX[0] - 64, ASTRO_BOX[1], ASTRO_BOX[2], ASTRO_BOX[3])


def _portrait() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[:, PORTRAIT_COLS])


def _png_bytes(pixels: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", **kw)
    return buf.getvalue()


# --------------------------------------------------------------------------- sources


def test_path_bytes_and_array_give_the_same_pixels(astronaut, tmp_path):
    path = tmp_path / "astro.png"
    path.write_bytes(_png_bytes(astronaut))
    for source in (path, str(path), path.read_bytes(), bytearray(path.read_bytes())):
        loaded = load_image(source)
        assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (512, 512, 3)
        assert np.array_equal(loaded.pixels, astronaut), type(source)
        assert np.array_equal(read_image(source), astronaut), type(source)
    assert np.array_equal(read_image(astronaut), astronaut)
    assert np.array_equal(load_image(astronaut).pixels, astronaut)


def test_channels_are_rgb_not_bgr(tmp_path):
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    path = tmp_path / "red.png"
    Image.fromarray(red).save(path)
    assert tuple(read_image(path)[0, 0]) == (255, 0, 0)
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 2] = 255
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(path)
    assert tuple(read_image(path)[0, 0]) == (0, 0, 255, 128)


@pytest.mark.parametrize("shape", [(0, 0, 3), (10,), (2, 3, 4, 5)])
def test_bad_array_shapes_raise_input_error(shape):
    with pytest.raises(faceveil.InputError):
        load_image(np.zeros(shape, np.uint8))


# --------------------------------------------------------------------------- EXIF orientation


# Stored pixels for each orientation, so that applying the tag shows the upright portrait.
STORED = {
    6: lambda upright: np.rot90(upright, 1),  # viewer rotates 90 clockwise
    8: lambda upright: np.rot90(upright, -1),  # viewer rotates 90 counter-clockwise
    3: lambda upright: upright[::-1, ::-1],
}


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_orientation_is_applied(orientation, tmp_path):
    upright = _portrait()
    stored = np.ascontiguousarray(STORED[orientation](upright))
    path = tmp_path / f"rotated{orientation}.jpg"
    path.write_bytes(jpeg_with_exif(stored, orientation=orientation))
    with Image.open(path) as im:  # the file really holds the rotated pixels
        assert im.size == (stored.shape[1], stored.shape[0])

    pixels = read_image(path)
    assert pixels.shape == upright.shape  # (512, 384, 3), taller than wide
    assert norm_diff(pixels, upright) < 0.02

    faces = faceveil.detect(path)
    assert len(faces) == 1
    assert iou(faces[0].box, PORTRAIT_BOX) > 0.7
    # Upright: the eyes are level and above the mouth.
    lm = faces[0].landmarks
    assert abs(lm[0, 1] - lm[1, 1]) < 10 and lm[0, 1] < lm[3, 1]


def test_oriented_file_is_anonymised_upright(tmp_path):
    upright = _portrait()
    src = tmp_path / "in.jpg"
    src.write_bytes(jpeg_with_exif(np.ascontiguousarray(np.rot90(upright, 1)), orientation=6))
    out, report = faceveil.anonymize(src, "pixelate")
    assert out.shape == upright.shape
    assert report.face_count == 1
    ys, xs = inner_slices(PORTRAIT_BOX, 0.6)
    assert norm_diff(out[ys, xs], upright[ys, xs]) > 0.04

    for keep in (False, True):
        dst = tmp_path / f"out_keep{keep}.jpg"
        opts = faceveil.AnonymizeOptions(method="pixelate", keep_metadata=keep)
        batch = faceveil.anonymize_paths([src], dst, options=opts, progress=False)
        assert not batch.failed
        with Image.open(dst) as im:
            # Stored upright, so no viewer rotates it again.
            assert im.size == (384, 512)
            assert im.getexif().get(0x0112, 1) == 1
        again = read_image(dst)
        assert again.shape == upright.shape
        assert norm_diff(again[ys, xs], upright[ys, xs]) > 0.04


# --------------------------------------------------------------------------- bit depth, channels


def test_16bit_png_round_trip_keeps_uint16(astronaut, tmp_path):
    rng = np.random.default_rng(7)
    deep = astronaut.astype(np.uint16) * 257 + rng.integers(0, 200, astronaut.shape, np.uint16)
    path = tmp_path / "deep.png"
    write_image(path, deep)
    back = read_image(path)
    assert back.dtype == np.uint16
    assert np.array_equal(back, deep)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert raw[24] == 16  # IHDR bit depth: really a 16-bit file


def test_16bit_gray_png_round_trip(tmp_path):
    rng = np.random.default_rng(8)
    gray = rng.integers(0, 65536, (40, 50), dtype=np.uint16)
    path = tmp_path / "gray16.png"
    write_image(path, gray)
    back = read_image(path)
    assert back.dtype == np.uint16 and back.shape == (40, 50)
    assert np.array_equal(back, gray)


def test_16bit_png_anonymised_file_stays_16bit(astronaut, tmp_path):
    deep = astronaut.astype(np.uint16) * 257
    src = tmp_path / "deep.png"
    write_image(src, deep)
    dst = tmp_path / "deep_out.png"
    batch = faceveil.anonymize_paths([src], dst, progress=False)
    assert not batch.failed and batch.files[0].face_count == 1
    out = read_image(dst)
    assert out.dtype == np.uint16 and out.shape == deep.shape
    ys, xs = inner_slices(ASTRO_BOX, 0.6)
    assert norm_diff(out[ys, xs], deep[ys, xs]) > 0.05
    # Away from the face, the 16-bit values are exact.
    assert np.array_equal(out[300:, :], deep[300:, :])


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA"])
def test_gray_and_alpha_files_work_through_detect(astronaut, tmp_path, mode):
    pil = Image.fromarray(astronaut).convert(mode)
    if mode in ("RGBA", "LA"):
        alpha = Image.fromarray(
            ((np.arange(512)[None, :] // 4 + 128) * np.ones((512, 1))).astype(np.uint8)
        )
        pil.putalpha(alpha)
    path = tmp_path / f"astro_{mode}.png"
    pil.save(path)
    pixels = read_image(path)
    assert pixels.dtype == np.uint8 and pixels.shape[:2] == (512, 512)
    if mode == "L":
        assert pixels.ndim == 2
    else:
        assert pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    faces = faceveil.detect(path)
    assert len(faces) == 1 and iou(faces[0].box, ASTRO_BOX) > 0.7
    out, report = faceveil.anonymize(path, "blur")
    assert out.shape == pixels.shape and out.dtype == pixels.dtype
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        assert np.array_equal(out[..., 3], pixels[..., 3])


def test_float_array_works_through_detect(astronaut):
    faces = faceveil.detect(astronaut.astype(np.float32) / 255.0)
    assert len(faces) == 1 and iou(faces[0].box, ASTRO_BOX) > 0.7


# --------------------------------------------------------------------------- metadata


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize(("ext", "fmt"), [(".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP")])
def test_metadata_is_stripped_by_default_and_kept_on_request(astronaut, tmp_path, ext, fmt):
    src = tmp_path / f"tagged{ext}"
    src.write_bytes(jpeg_with_exif(astronaut, fmt=fmt))
    assert gps_of(src)[2] == GPS_LATITUDE  # the input really has GPS
    assert exif_of(src)[0x010F] == "FaceveilTestCam"

    stripped = tmp_path / f"stripped{ext}"
    batch = faceveil.anonymize_paths([src], stripped, progress=False)
    assert not batch.failed
    assert exif_of(stripped) == {}
    assert gps_of(stripped) == {}
    with Image.open(stripped) as im:
        assert "exif" not in im.info

    kept = tmp_path / f"kept{ext}"
    opts = faceveil.AnonymizeOptions(keep_metadata=True)
    batch = faceveil.anonymize_paths([src], kept, options=opts, progress=False)
    assert not batch.failed
    assert exif_of(kept)[0x010F] == "FaceveilTestCam"
    gps = gps_of(kept)
    assert gps[1] == "N" and tuple(float(v) for v in gps[2]) == GPS_LATITUDE


def test_icc_profile_stripped_by_default_and_kept_on_request(astronaut, tmp_path):
    src = tmp_path / "icc.jpg"
    profile = _icc()  # holds a timestamp: make it once
    Image.fromarray(astronaut).save(src, "JPEG", icc_profile=profile)
    plain, kept = tmp_path / "plain.jpg", tmp_path / "kept.jpg"
    faceveil.anonymize_paths([src], plain, progress=False)
    opts = faceveil.AnonymizeOptions(keep_metadata=True)
    faceveil.anonymize_paths([src], kept, options=opts, progress=False)
    with Image.open(plain) as im:
        assert not im.info.get("icc_profile")
    with Image.open(kept) as im:
        assert im.info.get("icc_profile") == profile


def test_png_text_chunks_are_not_copied(astronaut, tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "someone@example.org")
    info.add_text("Location", "48.8584 N 2.2945 E")
    src = tmp_path / "text.png"
    Image.fromarray(astronaut).save(src, pnginfo=info)
    dst = tmp_path / "out.png"
    faceveil.anonymize_paths([src], dst, progress=False)
    with Image.open(dst) as im:
        assert "Author" not in im.info and "Location" not in im.info
    assert b"someone@example.org" not in dst.read_bytes()


def test_write_image_writes_no_metadata_unless_given(astronaut, tmp_path):
    loaded = load_image(jpeg_with_exif(astronaut))
    assert loaded.exif  # LoadedImage carries the EXIF block
    plain = write_image(tmp_path / "plain.jpg", astronaut)
    with_meta = write_image(tmp_path / "meta.jpg", astronaut, metadata=loaded)
    assert gps_of(plain) == {}
    assert gps_of(with_meta)[2] == GPS_LATITUDE


# --------------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_write_image_leaves_only_the_target(astronaut, tmp_path, ext):
    target = tmp_path / f"out{ext}"
    write_image(target, astronaut)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert read_image(target).shape == astronaut.shape


def test_write_image_creates_missing_folders(astronaut, tmp_path):
    target = tmp_path / "a" / "b" / "out.png"
    write_image(target, astronaut)
    assert np.array_equal(read_image(target), astronaut)


def test_written_files_get_normal_permissions(astronaut, tmp_path):
    """Outputs are created like any file (0o666 minus the umask), not private 0o600 temp files."""
    old = os.umask(0o022)
    try:
        target = write_image(tmp_path / "out.png", astronaut)
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


def test_failed_write_leaves_no_temp_file(astronaut, tmp_path):
    # The target is a folder, so the final rename fails after the data was written.
    (tmp_path / "out.png").mkdir()
    with pytest.raises(OSError):
        write_image(tmp_path / "out.png", astronaut)
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_unsupported_output_format_writes_nothing(astronaut, tmp_path):
    with pytest.raises(faceveil.OutputError):
        write_image(tmp_path / "out.gif", astronaut)
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_old_target_on_failure(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []
    # Nothing written at all is a failure too, and also leaves the old file.
    with pytest.raises(OSError), atomic_output(target):
        pass
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_atomic_output_replaces_target(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with atomic_output(target) as tmp:
        assert tmp != target and tmp.parent == target.parent and tmp.suffix == ".bin"
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # not visible until done
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- bad inputs


def _bad_files(tmp_path: Path, astronaut: np.ndarray) -> dict[str, Path]:
    jpeg = io.BytesIO()
    Image.fromarray(astronaut).save(jpeg, "JPEG")
    png = _png_bytes(astronaut)
    rng = np.random.default_rng(3)
    contents = {
        "empty.jpg": b"",
        "text.jpg": b"this is not an image, just some text\n",
        "random.png": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "truncated.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 2],
        "truncated.png": png[: len(png) // 2],
        "header_only.png": png[:33],
        "garbage_after_magic.jpg": b"\xff\xd8\xff\xe0" + b"\x00garbage" * 64,
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    return paths


def _check_message(exc: Exception, name: str) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg, repr(msg)
    assert name in msg, msg
    assert "Traceback" not in msg


def test_bad_files_raise_one_line_input_error(astronaut, tmp_path):
    for name, path in _bad_files(tmp_path, astronaut).items():
        for fn in (load_image, read_image, faceveil.detect, faceveil.anonymize):
            with pytest.raises(faceveil.InputError) as info:
                fn(path)
            _check_message(info.value, name)
        with pytest.raises(faceveil.InputError) as info:
            load_image(path.read_bytes())
        assert "\n" not in str(info.value)


def test_missing_file_and_folder_raise_input_error(tmp_path):
    for path in (tmp_path / "missing.jpg", tmp_path):
        with pytest.raises(faceveil.InputError) as info:
            read_image(path)
        _check_message(info.value, path.name)


def test_input_error_is_a_value_error():
    assert issubclass(faceveil.InputError, ValueError)
    assert issubclass(faceveil.InputError, faceveil.FaceveilError)


def test_batch_with_bad_files_writes_only_good_outputs(astronaut, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    bad = _bad_files(src, astronaut)
    good = src / "good.png"
    good.write_bytes(_png_bytes(astronaut))
    out = tmp_path / "out"
    batch = faceveil.anonymize_paths([src], out, progress=False)
    assert [Path(f.input).name for f in batch.failed] == sorted(bad)  # every bad one reported
    for rep in batch.failed:
        assert rep.error and "\n" not in rep.error and Path(rep.input).name in rep.error
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]
    assert leftovers(tmp_path) == []
