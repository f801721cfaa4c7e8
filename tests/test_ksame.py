"""``ksame``: the face becomes the average of k gallery identities; not the original, nothing
outside the region changes, galleries count people, not photos."""

from __future__ import annotations

import logging
import os
import subprocess

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

import faceveil
from conftest import faceveil_cmd
from faceveil.analysis.attributes import analyze_faces
from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.anonymize import AnonymizeOptions, ksame
from faceveil.anonymize.regions import face_region
from faceveil.anonymize.state import RunState
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.gen.directions import framed
from faceveil.io.orl import load_orl

SAMPLES = 150  # a small synthetic gallery (about 55 identities) keeps the tests fast


@pytest.fixture(scope="module", autouse=True)
def small_gallery(tmp_path_factory):
    """The default synthetic gallery, built from SAMPLES draws into a private cache."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("cache")
        mp.setenv("XDG_CACHE_HOME", str(cache))
        mp.setenv("FACEVEIL_KSAME_SAMPLES", str(SAMPLES))
        yield ksame.synthetic_gallery()


@pytest.fixture(scope="module")
def samples():
    """Ten generator samples as photos: 2x, in a grey border, as YuNet finds them."""
    from faceveil.gen.registry import get_generator

    return [framed(img) for img in get_generator().sample(10, seed=7)]


def _write(folder, images) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:02d}.png")


def _largest(image) -> list[Face]:
    faces = detect(image, small_faces=False)
    return [max(faces, key=lambda f: f.box[2] * f.box[3])]


def _outside(image, face) -> np.ndarray:
    region = face_region(face, image.shape, shape="ellipse", mask_scale=1.3, feather=0.1)
    outside = np.ones(image.shape[:2], bool)
    ys, xs = region.slices
    outside[ys, xs] = region.alpha == 0
    return outside


def test_the_synthetic_gallery_holds_distinct_identities_and_is_cached(small_gallery):
    g = small_gallery
    assert 10 < len(g) < SAMPLES
    assert g.crops.shape[1:] == (64, 64, 3) and g.crops.dtype == np.uint8
    assert g.labels.shape == (len(g), 3) and np.isfinite(g.labels).all(axis=1).mean() > 0.9
    sims = g.embeddings @ g.embeddings.T
    np.fill_diagonal(sims, -1)
    assert sims.max() < SFACE_THRESHOLD  # no two of them are the same person to SFace
    cached = list((ksame.cache_dir()).glob(f"ksame-*-n{SAMPLES}-*.npz"))
    assert len(cached) == 1
    ksame._synthetic.cache_clear()
    again = ksame.synthetic_gallery()  # from disk this time
    assert np.array_equal(again.crops, g.crops)


def test_faces_are_replaced_below_the_identity_threshold_background_untouched():
    cases = [(skimage.data.astronaut(), None)]
    cases += [(img, None) for _, img in load_orl()[5::130]]
    for image, _ in cases:
        faces = _largest(image)
        out, report = faceveil.anonymize(image, "ksame", faces=faces, k=3)
        assert report.warnings == []  # replaced, not blurred
        similarity = cosine(embed_faces(image, faces)[0], embed_faces(out, faces)[0])
        assert similarity < SFACE_THRESHOLD - 0.05
        outside = _outside(image, faces[0])
        assert np.array_equal(out[outside], image[outside])
        assert np.abs(out.astype(int) - image).mean() > 1  # and the face did change


@pytest.fixture
def pasted(monkeypatch) -> list[np.ndarray]:
    """Every generated face (enlarged to its crop) handed to the shared compositing, in order."""
    from faceveil.anonymize import replace

    faces = []
    real = replace.composite

    def spy(photo, new, geometry, mask, seed):
        faces.append(new)
        return real(photo, new, geometry, mask, seed)

    monkeypatch.setattr(replace, "composite", spy)
    return faces


def test_the_pasted_face_is_the_average_of_k_gallery_identities(pasted):
    from faceveil.gen.upsample import upsample

    image = skimage.data.astronaut()
    faces = _largest(image)
    out, report = faceveil.anonymize(image, "ksame", faces=faces, k=4)
    assert report.warnings == []
    gallery = ksame.synthetic_gallery()
    a = analyze_faces(image, faces, mesh=False, align="landmarks")[0]
    female = a.gender_prob if a.gender == "female" else 1 - a.gender_prob
    distance = (
        np.abs(gallery.labels[:, 0] - a.age) / 10
        + 2 * np.abs(gallery.labels[:, 1] - female)
        + np.abs(gallery.labels[:, 2] - a.emotions["happy"])
    )
    order = np.argsort(np.nan_to_num(distance, nan=np.inf), kind="stable")
    # The face that went in is the mean of the 4 identities nearest in apparent age, gender and
    # expression, or of the next disjoint 4-set when the identity check turned down those.
    start = 4 * ((len(pasted) - 1) % ksame.MAX_SETS)  # a second round on a wider oval
    members = gallery.crops[order[start : start + 4]].astype(np.float32)
    expected = upsample(np.rint(members.mean(axis=0)).astype(np.uint8), pasted[-1].shape[0])
    assert np.array_equal(pasted[-1], expected)


def test_deterministic_and_k_matters():
    image = skimage.data.astronaut()
    faces = _largest(image)
    a = faceveil.anonymize(image, "ksame", faces=faces, k=3).image
    b = faceveil.anonymize(image, "ksame", faces=faces, k=3).image
    c = faceveil.anonymize(image, "ksame", faces=faces, k=6).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_grayscale_face_stays_grayscale():
    _, image = load_orl()[42]
    assert image.ndim == 3 and (image[..., 0] == image[..., 2]).all()
    out, report = faceveil.anonymize(image, "ksame", faces=_largest(image), k=3)
    assert report.warnings == []
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_a_tiny_face_falls_back_to_blur_and_says_so():
    image = skimage.data.astronaut()
    f = _largest(image)[0]
    small = cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    tiny = Face(tuple(v * 0.15 for v in f.box), f.score, f.landmarks * 0.15)
    out, report = faceveil.anonymize(small, "ksame", faces=[tiny])
    assert len(report.warnings) == 1 and "blur instead of ksame" in report.warnings[0]
    assert np.array_equal(out, faceveil.anonymize(small, "blur", faces=[tiny]).image)


def test_user_gallery_from_photos_is_used_deterministically(samples, tmp_path):
    _write(tmp_path / "g", samples)
    image = skimage.data.astronaut()
    faces = _largest(image)
    gallery = ksame.user_gallery(tmp_path / "g")
    assert 3 <= len(gallery) <= len(samples)
    a = faceveil.anonymize(image, "ksame", faces=faces, k=3, gallery=tmp_path / "g").image
    b = faceveil.anonymize(image, "ksame", faces=faces, k=3, gallery=tmp_path / "g").image
    default = faceveil.anonymize(image, "ksame", faces=faces, k=3).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, default)


def test_near_duplicate_photos_count_as_one_identity_bad_files_skipped(samples, tmp_path, caplog):
    _write(tmp_path / "once", samples[:5])
    brighter = cv2.convertScaleAbs(samples[0], alpha=1.1, beta=10)
    mirrored = samples[0][:, ::-1].copy()
    _write(tmp_path / "twice", [*samples[:5], brighter, mirrored])
    (tmp_path / "twice" / "broken.jpg").write_bytes(b"not an image")
    _write(tmp_path / "twice" / "empty", [np.full((120, 120, 3), 90, np.uint8)])
    once = ksame.user_gallery(tmp_path / "once")
    with caplog.at_level(logging.WARNING, logger="faceveil.anonymize.ksame"):
        twice = ksame.user_gallery(tmp_path / "twice")
    assert len(twice) == len(once)
    assert "broken.jpg" in caplog.text and "no face found" in caplog.text
    # The copies are merged: the first identity's crop is the mean of three crops now.
    assert not np.array_equal(twice.crops, once.crops)


def test_a_gallery_with_fewer_than_k_identities_is_an_error(samples, tmp_path):
    _write(tmp_path / "g", [samples[0], samples[0][:, ::-1].copy(), samples[1]])
    n = len(ksame.user_gallery(tmp_path / "g"))
    image = skimage.data.astronaut()
    with pytest.raises(InputError, match=f"has {n} distinct identities, fewer than k=5"):
        faceveil.anonymize(image, "ksame", k=5, gallery=tmp_path / "g")
    with pytest.raises(InputError, match="fewer than k=90"):
        faceveil.anonymize(image, "ksame", k=90)  # the small synthetic gallery, too


def test_options_call_the_gallery_by_name():
    opts = AnonymizeOptions(method="ksame", k=3)
    assert ksame.gallery_for(opts) is ksame.synthetic_gallery()


def _cli(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("FACEVEIL_DEBUG", "FACEVEIL_LOG")}
    return subprocess.run(
        [*faceveil_cmd(), *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.slow
def test_cli(samples, tmp_path):
    image = skimage.data.astronaut()
    Image.fromarray(image).save(tmp_path / "a.png")
    proc = _cli(
        "anonymize", tmp_path / "a.png", "--method", "ksame", "--k", "3", "-o", tmp_path / "o.png"
    )
    assert proc.returncode == 0, proc.stderr
    expected = faceveil.anonymize(image, "ksame", k=3).image
    assert np.array_equal(faceveil.io.read_image(tmp_path / "o.png"), expected)
    _write(tmp_path / "few", samples[:2])
    proc = _cli(
        "anonymize",
        tmp_path / "a.png",
        "--method",
        "ksame",
        "--gallery",
        tmp_path / "few",
        "-o",
        tmp_path / "p.png",
    )
    assert proc.returncode == 1
    assert "fewer than k=5" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "p.png").exists()


def test_a_video_track_keeps_its_k_set(pasted):
    import dataclasses

    image = skimage.data.astronaut()
    face = dataclasses.replace(_largest(image)[0], track_id=7)
    opts = AnonymizeOptions(method="ksame", k=3)
    run = RunState()
    ksame.replace_face(image, face, opts, run)
    chosen = pasted[-1]
    moved = np.roll(image, 6, axis=1)  # the next frame: the face moved, the search is not rerun
    face2 = dataclasses.replace(face, box=(face.box[0] + 6, *face.box[1:]))
    face2 = dataclasses.replace(face2, landmarks=face.landmarks + np.float32([6, 0]))
    pasted.clear()
    ksame.replace_face(moved, face2, opts, run)
    assert len(pasted) == 1 and np.array_equal(pasted[0], chosen)
