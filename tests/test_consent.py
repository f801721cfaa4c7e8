"""--keep-gallery / --keep-names: the enrolled, named person stays visible; everyone else, the
unknown and the enrolled but unnamed, is anonymised; the report names who was kept."""

import json

import cv2
import numpy as np
import pytest

from faceveil.analysis.gallery import Gallery
from faceveil.anonymize import AnonymizeOptions, anonymize
from faceveil.errors import InputError
from faceveil.io.images import read_image
from faceveil.testing.scenes import orl_files


def orl(person: int, image: int) -> np.ndarray:
    grey = read_image(orl_files()[(person - 1) * 10 + image - 1])
    rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB) if grey.ndim == 2 else grey
    return cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def gallery_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("consent") / "people.sqlite3"
    gallery = Gallery(path)
    for person, name in ((1, "alice"), (2, "bob")):
        for image in (1, 2, 3):
            png = path.parent / f"{name}{image}.png"
            cv2.imwrite(str(png), orl(person, image)[:, :, ::-1])
            gallery.add(name, [png])
    return path


def _group() -> np.ndarray:
    """alice, bob and a stranger side by side, photos not enrolled."""
    return np.concatenate([orl(1, 8), orl(2, 8), orl(3, 8)], axis=1)


def test_keeps_only_the_named_enrolled_face(gallery_path):
    group = _group()
    plain = anonymize(group, "solid")
    assert plain.report.face_count == 3
    out, report = anonymize(group, "solid", keep_gallery=gallery_path, keep_names="alice")
    width = group.shape[1] // 3
    assert np.array_equal(out[:, :width], group[:, :width])  # alice untouched
    assert not np.array_equal(out[:, width : 2 * width], group[:, width : 2 * width])  # bob
    assert not np.array_equal(out[:, 2 * width :], group[:, 2 * width :])  # the stranger
    assert report.face_count == 2
    (kept,) = report.to_dict()["kept"]
    assert kept["name"] == "alice" and kept["similarity"] >= 0.463
    assert kept["box"][0] < width


def test_cli_keep_options_and_bad_names(gallery_path, run_cli, tmp_path):
    src = tmp_path / "group.png"
    cv2.imwrite(str(src), _group()[:, :, ::-1])
    report = tmp_path / "r.json"
    proc = run_cli(
        "anonymize", src, "-o", tmp_path / "out.png", "--keep-gallery", gallery_path,
        "--keep-names", "alice,bob", "--json", report, "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    kept = json.loads(report.read_text())["files"][0]["kept"]
    assert sorted(k["name"] for k in kept) == ["alice", "bob"]
    proc = run_cli(
        "anonymize", src, "-o", tmp_path / "o2.png", "--keep-gallery", gallery_path,
        "--keep-names", "carol", "-q",
    )  # fmt: skip
    assert proc.returncode != 0 and "carol" in proc.stderr
    assert not (tmp_path / "o2.png").exists()
    with pytest.raises(InputError, match="go together"):
        anonymize(_group(), "blur", keep_names="alice")


def test_an_unknown_face_is_never_kept(gallery_path):
    stranger = orl(5, 1)
    out, report = anonymize(stranger, "solid", keep_gallery=gallery_path, keep_names="alice,bob")
    assert report.face_count == 1 and not report.kept
    assert not np.array_equal(out, stranger)
    assert AnonymizeOptions(keep_names="a").summary()["keep_names"] == "a"
