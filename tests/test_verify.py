"""Face verification (1:1): ORL pairs, rescaled astronaut, several faces, errors, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import ASTRO_BOX, iou
from faceveil.analysis.identity import SFACE_THRESHOLD
from faceveil.analysis.verify import find_faces, verify
from faceveil.errors import InputError
from faceveil.testing.scenes import orl_files

# Until faceveil/cli/__init__.py imports the analysis commands, import them here first.
CLI = [sys.executable, "-m", "faceveil.cli"]


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def orl(person: int, image: int) -> Path:
    """ORL file s<person>/<image>.pgm (92x112 grayscale)."""
    return orl_files()[(person - 1) * 10 + image - 1]


@pytest.fixture(scope="module")
def two_faces() -> np.ndarray:
    """A 300x520 scene: the astronaut's face on the left (about 90x110 px), ORL s1/1 upscaled
    2x on the right (a larger face, about 145x205 px)."""
    import skimage.data

    scene = np.full((300, 520, 3), 128, np.uint8)
    scene[40:260, 10:230] = skimage.data.astronaut()[20:240, 120:340]
    gray = cv2.resize(cv2.imread(str(orl(1, 1)), cv2.IMREAD_GRAYSCALE), None, fx=2, fy=2)
    scene[38:262, 300:484] = gray[:, :, None]
    return scene


def test_orl_pairs_at_calibrated_threshold():
    # 10 people: two of their images must match; their image 1 against the next person's
    # image 3 must not. Native 92x112 files exercise the small-image upscaling.
    for p in range(1, 11):
        same = verify(orl(p, 1), orl(p, 2 + p % 8))
        assert same.same_person, (p, same.similarity)
        assert same.threshold == SFACE_THRESHOLD
        other = verify(orl(p, 1), orl(p % 40 + 1, 3))
        assert not other.same_person, (p, other.similarity)
        assert other.similarity < same.similarity


def test_small_image_boxes_in_input_pixels():
    result = verify(orl(3, 1), orl(3, 4))
    for box in (result.box_a, result.box_b):
        x, y, w, h = box
        assert -5 < x < 40 and -5 < y < 40 and 40 < w < 100 and 50 < h < 120


def test_astronaut_against_itself_shifted_and_rescaled(astronaut):
    small = cv2.resize(astronaut, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    shifted = np.pad(small, ((40, 10), (70, 5), (0, 0)), constant_values=200)
    bigger = cv2.resize(astronaut[:300, 80:400], None, fx=1.5, fy=1.5)
    for other in (shifted, bigger):
        result = verify(astronaut, other)
        assert result.same_person and result.similarity > 0.6
        assert iou(result.box_a, ASTRO_BOX) > 0.8
    # The box in B is in B's own pixels: 0.6 x the original, shifted by the padding.
    r = verify(astronaut, shifted)
    expected = (ASTRO_BOX[0] * 0.6 + 70, ASTRO_BOX[1] * 0.6 + 40, 90 * 0.6, 111 * 0.6)
    assert iou(r.box_b, expected) > 0.7


def test_inputs_as_path_bytes_and_array(astronaut, tmp_path):
    path = tmp_path / "astro.png"
    Image.fromarray(astronaut).save(path)
    data = path.read_bytes()
    for a, b in ((path, data), (str(path), astronaut), (data, data)):
        assert verify(a, b).similarity > 0.99


def test_all_pairs_on_two_faces(two_faces, astronaut):
    # By default the largest faces are compared: the ORL face against the astronaut.
    largest = verify(two_faces, astronaut)
    assert not largest.same_person and largest.faces_a == 2 and len(largest.pairs) == 1
    assert largest.box_a[0] > 260
    # All pairs: the astronaut's face on the left wins.
    result = verify(two_faces, astronaut, all_pairs=True)
    assert result.same_person and result.faces_a == 2 and result.faces_b == 1
    assert len(result.pairs) == 2
    best, other = result.pairs
    assert best.similarity == result.similarity > other.similarity
    assert best.same_person and not other.same_person
    assert result.box_a == best.box_a and result.box_a[0] < 230
    assert {best.a, other.a} == {0, 1} and best.a == 1  # faces are indexed largest first
    json.dumps(result.to_dict())
    # The ORL person is found on the right.
    right = verify(two_faces, orl(1, 5), all_pairs=True)
    assert right.same_person and right.box_a[0] > 260


def test_no_face_names_the_input(astronaut, tmp_path):
    blank = np.full((240, 320, 3), 90, np.uint8)
    with pytest.raises(InputError, match=r"no face found in image B \(array\)"):
        verify(astronaut, blank)
    path = tmp_path / "wall.png"
    Image.fromarray(blank).save(path)
    with pytest.raises(InputError, match=r"image A \(.*wall\.png\)"):
        verify(path, astronaut)
    with pytest.raises(InputError, match=r"^image B: not an image file$"):
        verify(astronaut, b"not an image")


def test_bad_thresholds(astronaut):
    with pytest.raises(ValueError, match="threshold"):
        verify(astronaut, astronaut, threshold=1.5)
    with pytest.raises(ValueError, match="detect_threshold"):
        verify(astronaut, astronaut, detect_threshold=0)


def test_threshold_decides():
    default = verify(orl(2, 1), orl(2, 6))
    strict = verify(orl(2, 1), orl(2, 6), threshold=0.99)
    assert default.same_person and not strict.same_person
    assert strict.threshold == 0.99 and strict.similarity == default.similarity
    assert not strict.pairs[0].same_person


def test_find_faces_counts_every_face(two_faces):
    one = find_faces(two_faces, largest_only=True)
    both = find_faces(two_faces)
    assert one.detected == both.detected == len(both) == 2 and len(one) == 1
    assert both.embeddings.shape == (2, 128)
    areas = [f.box[2] * f.box[3] for f in both.faces]
    assert areas == sorted(areas, reverse=True)


# --------------------------------------------------------------------------- CLI


def test_cli_verify_json(tmp_path):
    proc = run_cli("verify", orl(2, 1), orl(2, 6), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["similarity", "threshold", "same_person"]
    assert data["same_person"] is True and data["threshold"] == SFACE_THRESHOLD
    proc = run_cli("verify", orl(2, 1), orl(5, 6), "--json", "--all-pairs", "--threshold", "0.5")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["similarity", "threshold", "same_person", "pairs"]
    assert data["same_person"] is False and data["threshold"] == 0.5
    assert len(data["pairs"]) == 1 and data["pairs"][0]["similarity"] == data["similarity"]


def test_cli_verify_text_and_errors(astronaut, tmp_path):
    proc = run_cli("verify", orl(2, 1), orl(5, 6))
    assert proc.returncode == 0 and proc.stdout.startswith("different people: similarity")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(blank)
    proc = run_cli("verify", orl(2, 1), blank)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == f"faceveil: error: no face found in image B ({blank})"
    proc = run_cli("verify", orl(2, 1), tmp_path / "missing.jpg")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("verify", orl(2, 1), orl(2, 2), "--threshold", "2")
    assert proc.returncode == 2 and "--threshold" in proc.stderr
