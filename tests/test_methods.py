"""Every registered method through `faceveil.anonymize`: what changes, what must not, dtypes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

import faceveil
from conftest import (
    ASTRO_BOX,
    changed_mask,
    inner_slices,
    iou,
    may_change_mask,
    norm_diff,
)

ANONYMISING = [m for m in faceveil.METHODS if m != "none"]
SFACE_THRESHOLD = 0.363  # SFace's calibrated cosine threshold for "same person"


def _gray(rgb: np.ndarray) -> np.ndarray:
    return np.rint(rgb @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def _rgba(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    alpha = ((np.arange(w)[None, :] + np.arange(h)[:, None]) % 256).astype(np.uint8)
    return np.dstack([rgb, alpha])


KINDS = {
    "rgb8": lambda a: a,
    "gray8": _gray,
    "rgba8": _rgba,
    "rgb16": lambda a: a.astype(np.uint16) * 257,
}


def _colour(img: np.ndarray) -> np.ndarray:
    """The colour channels (alpha dropped)."""
    return img[:, :, :3] if img.ndim == 3 and img.shape[2] == 4 else img


def test_registry_lists_the_documented_methods():
    assert {"blur", "pixelate", "solid", "image", "none"} <= set(faceveil.METHODS)


@pytest.mark.parametrize("shape", ["ellipse", "box"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("method", list(faceveil.METHODS))
def test_method_changes_face_and_nothing_outside_region(method, kind, shape):
    image = KINDS[kind](skimage.data.astronaut())
    before = image.copy()
    out, report = faceveil.anonymize(image, method, shape=shape)

    # The input array is not modified; the output keeps shape and dtype.
    assert np.array_equal(image, before)
    assert out is not image
    assert out.shape == image.shape and out.dtype == image.dtype

    assert report.face_count == 1
    face = report.faces[0]
    assert iou(face.box, ASTRO_BOX) > 0.7
    assert report.method == method

    # Outside the enlarged region, every byte is the input's. (The ``none`` overlay draws the
    # box outline and its label, so its region is the enlarged box whatever the shape.)
    region_shape = "box" if method == "none" else shape
    outside = ~may_change_mask(image.shape, face, mask_scale=1.3, shape=region_shape)
    assert np.array_equal(out[outside], image[outside]), (
        f"{int(changed_mask(out, image)[outside].sum())} pixels outside the region changed"
    )
    if image.ndim == 3 and image.shape[2] == 4:
        assert np.array_equal(out[:, :, 3], image[:, :, 3]), "alpha channel changed"

    ys, xs = inner_slices(face.box, 0.6)
    core_diff = norm_diff(_colour(out)[ys, xs], _colour(image)[ys, xs])
    if method == "none":
        # The tuning overlay draws an outline and landmarks, it does not hide the face.
        assert 0 < core_diff < 0.05
        assert changed_mask(out, image)[ys, xs].mean() < 0.3
    elif method == "cloak":
        # A cloak is a small perturbation spread over the face: the face stays recognisable to
        # people, so it changes many pixels by little.
        assert 0 < core_diff < 0.05
        assert changed_mask(out, image)[ys, xs].mean() > 0.3
    else:
        assert core_diff > 0.05, f"{method} barely changed the face ({core_diff:.3f})"
        assert changed_mask(out, image)[ys, xs].mean() > 0.9


def test_none_draws_the_box_outline(astronaut):
    out, report = faceveil.anonymize(astronaut, "none")
    x, y, w, h = (round(v) for v in report.faces[0].box)
    top_edge = out[y, x + 5 : x + w - 5]
    assert (top_edge == [0, 255, 0]).all(axis=-1).mean() > 0.9


@pytest.mark.parametrize("method", ANONYMISING)
def test_image_without_faces_is_returned_unchanged(method):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    out, report = faceveil.anonymize(image, method)
    assert report.face_count == 0
    assert np.array_equal(out, image)


def test_box_shape_covers_corners_ellipse_does_not(astronaut, astro_face):
    x, y, w, h = astro_face.box
    cx, cy = x + w / 2, y + h / 2
    # Points at 90% of the enlarged half-size diagonally: inside the box, outside the ellipse.
    corners = [
        (round(cy + sy * 0.9 * 1.3 * h / 2), round(cx + sx * 0.9 * 1.3 * w / 2))
        for sx in (-1, 1)
        for sy in (-1, 1)
    ]
    colour = (255, 0, 255)
    box_out, _ = faceveil.anonymize(astronaut, "solid", shape="box", color=colour)
    ell_out, _ = faceveil.anonymize(astronaut, "solid", shape="ellipse", color=colour)
    for r, c in corners:
        assert not np.array_equal(box_out[r, c], astronaut[r, c]), (r, c)
        assert np.array_equal(ell_out[r, c], astronaut[r, c]), (r, c)


@pytest.mark.parametrize("shape", ["ellipse", "box"])
@pytest.mark.parametrize("mask_scale", [1.0, 1.3, 2.0])
def test_mask_scale_sets_the_region_size(astronaut, astro_face, mask_scale, shape):
    colour = (255, 0, 255)
    out, report = faceveil.anonymize(
        astronaut, "solid", shape=shape, mask_scale=mask_scale, color=colour
    )
    face = report.faces[0]
    outside = ~may_change_mask(astronaut.shape, face, mask_scale=mask_scale, shape=shape)
    assert np.array_equal(out[outside], astronaut[outside])

    x, y, w, h = face.box
    cx, cy = round(x + w / 2), round(y + h / 2)
    reach = 0.65 * mask_scale * w / 2  # inside the fully covered core
    for dx in (-reach, reach):
        assert tuple(out[cy, round(cx + dx)]) == colour, (mask_scale, dx)
    # Just beyond the enlarged box on the centre row: untouched.
    beyond = mask_scale * w / 2 + 2
    for dx in (-beyond, beyond):
        c = round(cx + dx)
        assert np.array_equal(out[cy, c], astronaut[cy, c]), (mask_scale, dx)


def test_larger_mask_scale_changes_more_pixels(astronaut, astro_face):
    counts = []
    for s in (1.0, 1.3, 2.0):
        out, _ = faceveil.anonymize(astronaut, "blur", faces=[astro_face], mask_scale=s)
        counts.append(int(changed_mask(out, astronaut).sum()))
    assert counts[0] < counts[1] < counts[2]
    # Area grows about with the square of the scale.
    assert counts[2] / counts[0] > 3.0


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rgb8", (255, 0, 255)),
        ("rgba8", (255, 0, 255)),
        ("rgb16", (65535, 0, 65535)),
        ("gray8", (0.299 * 255 + 0.114 * 255,)),
    ],
)
def test_solid_fills_with_the_given_colour(kind, expected):
    image = KINDS[kind](skimage.data.astronaut())
    out, report = faceveil.anonymize(image, "solid", color=(255, 0, 255))
    ys, xs = inner_slices(report.faces[0].box, 0.6)  # inside the ellipse's opaque core
    core = _colour(out)[ys, xs].astype(np.float64)
    if core.ndim == 2:
        core = core[:, :, None]
    assert np.abs(core - np.array(expected)).max() <= 1.0


def test_solid_default_colour_is_black(astronaut):
    out, report = faceveil.anonymize(astronaut, "solid", shape="box")
    ys, xs = inner_slices(report.faces[0].box, 0.9)
    assert (out[ys, xs] == 0).all()


def test_image_method_pastes_custom_rgba(astronaut):
    # Opaque green bottom half, fully transparent top half.
    sticker = np.zeros((64, 64, 4), np.uint8)
    sticker[32:, :, 1] = 255
    sticker[32:, :, 3] = 255
    before = sticker.copy()
    out, report = faceveil.anonymize(astronaut, "image", replace_image=sticker)
    assert np.array_equal(sticker, before)
    face = report.faces[0]
    x, y, w, h = face.box
    cx, cy = round(x + w / 2), round(y + h / 2)
    # Below the centre: the sticker's green.
    lower = out[cy + 10 : cy + 25, cx - 15 : cx + 15].astype(int)
    assert np.abs(lower - [0, 255, 0]).max() <= 2
    # Above: transparent sticker, so the face shows blurred, never green, never the original.
    upper_slice = (slice(cy - 30, cy - 10), slice(cx - 15, cx + 15))
    upper = out[upper_slice].astype(int)
    assert np.abs(upper - [0, 255, 0]).max(axis=-1).min() > 50
    assert norm_diff(out[upper_slice], astronaut[upper_slice]) > 0.03
    outside = ~may_change_mask(astronaut.shape, face)
    assert np.array_equal(out[outside], astronaut[outside])


def test_image_method_reads_replace_image_from_file(astronaut, tmp_path):
    sticker = np.zeros((40, 40, 4), np.uint8)
    sticker[..., 0] = 255
    sticker[..., 3] = 255
    path = tmp_path / "sticker.png"
    Image.fromarray(sticker, "RGBA").save(path)
    out, report = faceveil.anonymize(astronaut, "image", replace_image=path)
    ys, xs = inner_slices(report.faces[0].box, 0.6)
    assert np.abs(out[ys, xs].astype(int) - [255, 0, 0]).max() <= 2


def test_default_image_method_hides_face(astronaut, astro_face, sface):
    out, _ = faceveil.anonymize(astronaut, "image")
    assert sface(astronaut, out, astro_face) < SFACE_THRESHOLD


def test_sface_recognises_unanonymised_face(astronaut, astro_face, sface):
    """The identity check can fail: a re-encoded (not anonymised) face still matches."""
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "JPEG", quality=60)
    recoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert sface(astronaut, recoded, astro_face) > SFACE_THRESHOLD
    out, _ = faceveil.anonymize(astronaut, "none")
    assert sface(astronaut, out, astro_face) > SFACE_THRESHOLD


@pytest.mark.parametrize("shape", ["ellipse", "box"])
@pytest.mark.parametrize("method", ["blur", "pixelate"])
def test_blur_and_pixelate_defeat_face_recognition(astronaut, astro_face, sface, method, shape):
    out, _ = faceveil.anonymize(astronaut, method, shape=shape)
    similarity = sface(astronaut, out, astro_face)
    assert similarity < SFACE_THRESHOLD, f"{method}: SFace still matches ({similarity:.3f})"


def test_blur_strength_increases_change(astronaut, astro_face):
    weak, _ = faceveil.anonymize(astronaut, "blur", faces=[astro_face], blur_strength=0.3)
    strong, _ = faceveil.anonymize(astronaut, "blur", faces=[astro_face], blur_strength=2.0)
    ys, xs = inner_slices(astro_face.box, 0.6)
    assert norm_diff(strong[ys, xs], astronaut[ys, xs]) > norm_diff(weak[ys, xs], astronaut[ys, xs])


def test_pixelate_makes_blocks(astronaut, astro_face):
    out, _ = faceveil.anonymize(astronaut, "pixelate", faces=[astro_face], pixel_blocks=8)
    ys, xs = inner_slices(astro_face.box, 0.5)
    mosaic = np.unique(out[ys, xs].reshape(-1, 3), axis=0)
    original = np.unique(astronaut[ys, xs].reshape(-1, 3), axis=0)
    # A mosaic of about 8 blocks across holds far fewer colours than the face.
    assert len(mosaic) < 0.05 * len(original)


def test_anonymize_accepts_path_and_bytes(astronaut, tmp_path):
    path = tmp_path / "astro.png"
    Image.fromarray(astronaut).save(path)
    from_path, rep_path = faceveil.anonymize(str(path), "pixelate")
    from_bytes, rep_bytes = faceveil.anonymize(path.read_bytes(), "pixelate")
    from_array, _ = faceveil.anonymize(astronaut, "pixelate")
    assert np.array_equal(from_path, from_array)
    assert np.array_equal(from_bytes, from_array)
    assert rep_path.face_count == rep_bytes.face_count == 1


def test_faces_argument_skips_detection(astronaut):
    face = faceveil.Face((20.0, 20.0, 60.0, 60.0), 0.9)
    out, report = faceveil.anonymize(astronaut, "solid", faces=[face], color=(255, 0, 255))
    assert report.faces == [face]
    assert tuple(out[50, 50]) == (255, 0, 255)
    # The real face, not passed, stays.
    ys, xs = inner_slices(ASTRO_BOX, 0.6)
    assert np.array_equal(out[ys, xs], astronaut[ys, xs])


def test_face_at_the_image_border_is_clipped(astronaut):
    # A face box hanging over the top-left corner: no error, only pixels near it change.
    face = faceveil.Face((-30.0, -40.0, 80.0, 90.0), 0.9)
    out, _ = faceveil.anonymize(astronaut, "blur", faces=[face])
    assert out.shape == astronaut.shape
    assert not np.array_equal(out[:20, :20], astronaut[:20, :20])
    outside = ~may_change_mask(astronaut.shape, face, shape="ellipse")
    assert np.array_equal(out[outside], astronaut[outside])


@pytest.mark.parametrize(
    "kwargs",
    [{"shape": "triangle"}, {"mask_scale": 0.0}, {"mask_scale": 50.0}, {"color": (300, 0, 0)}],
)
def test_bad_options_raise_value_error(astronaut, kwargs):
    with pytest.raises(ValueError):
        faceveil.anonymize(astronaut, "blur", **kwargs)


def test_unknown_method_raises_value_error(astronaut):
    with pytest.raises(ValueError, match="unknown method"):
        faceveil.anonymize(astronaut, "smudge")
