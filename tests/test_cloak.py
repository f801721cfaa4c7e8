"""``--method cloak``: the torch SFace it optimises through, the budget, the untouched
background, and what an attacker with OpenCV's SFace sees afterwards."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces, face_row
from faceveil.anonymize import AnonymizeOptions, anonymize
from faceveil.anonymize import cloak as cloak_module
from faceveil.anonymize.cloak import BUDGETS, face_ssim, region_alpha
from faceveil.detect import detect

ORL_PICKS = (249, 273, 376)  # np.random.default_rng(7).choice(400, 3): three people


@pytest.fixture(scope="module")
def orl_faces():
    from faceveil.io.orl import load_orl

    orl = load_orl(2.0)
    out = []
    for i in ORL_PICKS:
        img = orl[i][1]
        face = max(detect(img, small_faces=False), key=lambda f: f.box[2] * f.box[3])
        out.append((img, face))
    return out


@pytest.fixture(scope="module")
def cloaked(orl_faces):
    # at `high`: `mid` (Fawkes' DSSIM 0.005) leaves some ORL faces at SFace 0.4-0.5 (README)
    return [anonymize(img, "cloak", faces=[face], budget="high") for img, face in orl_faces]


def test_torch_sface_matches_opencv_on_orl_faces(orl_faces):
    import torch

    from faceveil.models.sface import get_sface
    from faceveil.models.sface_torch import get_sface_net

    sface = get_sface()
    for img, face in orl_faces:
        crop = sface.align(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), face_row(face))
        x = torch.from_numpy(np.ascontiguousarray(crop[:, :, ::-1])).permute(2, 0, 1)[None]
        with torch.no_grad():
            ours = get_sface_net()(x.float())[0].numpy()
        assert cosine(ours, sface.embed_aligned(crop)) >= 0.999


def test_face_ssim_is_skimages_ssim():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.integers(0, 256, (60, 70, 3), dtype=np.uint8), (0, 0), 2)
    b = np.clip(a + rng.normal(0, 6, a.shape), 0, 255).astype(np.uint8)
    _, full = structural_similarity(a, b, channel_axis=2, data_range=255, full=True)
    mask = np.zeros(a.shape[:2], np.float32)
    mask[3:-3, 3:-3] = 1  # skimage's map is reliable away from the border
    expected = float(full.mean(axis=2)[3:-3, 3:-3].mean())
    assert face_ssim(a, b, mask) == pytest.approx(expected, abs=1e-4)
    assert face_ssim(a, a, mask) == pytest.approx(1.0)


@pytest.mark.slow
def test_cloak_hides_the_face_from_sface_within_the_budget(orl_faces, cloaked):
    dssim_cap, linf = BUDGETS["high"]
    opts = AnonymizeOptions(method="cloak", budget="high")
    for (img, face), result in zip(orl_faces, cloaked, strict=True):
        out = result.image
        # the attacker: OpenCV's SFace, aligned on the original landmarks
        similarity = cosine(embed_faces(img, [face])[0], embed_faces(out, [face])[0])
        assert similarity < SFACE_THRESHOLD
        alpha = region_alpha(img.shape, face, opts)
        assert face_ssim(img, out, alpha) >= 1 - 2 * dssim_cap  # DSSIM = (1 - SSIM) / 2
        diff = np.abs(out.astype(np.int16) - img)
        assert 0 < diff.max() <= linf
        assert (diff[alpha == 0] == 0).all()  # byte-identical outside the face region
        assert (out[..., 0] == out[..., 1]).all()  # a grey photo stays grey
        (detail,) = result.report.details
        assert detail["recognised"] is False and detail["similarity_after"] < SFACE_THRESHOLD
        assert detail["dssim"] <= dssim_cap and detail["linf"] <= linf
        assert not result.report.warnings  # no face fell back to blur


@pytest.mark.slow
def test_cloaked_faces_are_still_detected(orl_faces, cloaked):
    for (_, face), result in zip(orl_faces, cloaked, strict=True):
        found = detect(result.image, small_faces=False)
        assert found
        centre = np.array(face.box[:2]) + np.array(face.box[2:]) / 2
        best = min(found, key=lambda f: np.hypot(*(np.array(f.box[:2]) - face.box[:2])))
        assert np.hypot(*(np.array(best.box[:2]) + np.array(best.box[2:]) / 2 - centre)) < 10


def test_same_seed_same_cloak_and_the_target_matters(orl_faces, monkeypatch):
    monkeypatch.setattr(cloak_module, "STEPS", 3)  # determinism, not strength
    img, face = orl_faces[0]
    a = anonymize(img, "cloak", faces=[face], seed=3).image
    b = anonymize(img, "cloak", faces=[face], seed=3).image
    c = anonymize(img, "cloak", faces=[face], seed=3, target="away").image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_budget_or_target_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from faceveil.cli import app

    with pytest.raises(ValueError, match="budget"):
        AnonymizeOptions(method="cloak", budget="huge")
    with pytest.raises(ValueError, match="target"):
        AnonymizeOptions(method="cloak", target="nowhere")
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    result = CliRunner().invoke(
        app, ["anonymize", str(img), "--method", "cloak", "--budget", "huge"]
    )
    assert result.exit_code == 2
    assert "unknown budget 'huge'; choose one of low, mid, high, max" in result.output
    assert "Traceback" not in result.output
