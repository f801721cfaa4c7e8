"""Generator metrics: Fréchet distance, diversity, detection rate; `faceveil evaluate-generator`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from faceveil.gen import get_generator
from faceveil.gen.evaluate import evaluate_generator, frechet_distance, mean_pairwise_distance
from faceveil.io.images import write_image

CLI = [sys.executable, "-m", "faceveil.cli"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """24 built-in DCGAN faces (other seeds than the evaluated samples) as a crop folder."""
    folder = tmp_path_factory.mktemp("reference")
    for i, face in enumerate(get_generator().sample(24, seed=1000)):
        write_image(folder / f"{i:03d}.png", face)
    return folder


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 8))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0] + [0.0] * 6)
    # Same covariance, means apart by `shift`: the distance is |shift|^2 = 5.
    assert frechet_distance(a, a + shift) == pytest.approx(5.0, abs=1e-6)
    # N(0, I) against N(0, 4I) in 8-d: tr(I + 4I - 2 * 2I) = 8.
    b = rng.normal(size=(4000, 8))
    assert frechet_distance(b, 2 * rng.normal(size=(4000, 8))) == pytest.approx(8.0, rel=0.05)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), abs=1e-6)
    # Fewer samples than dimensions (singular covariances): still a finite, non-negative number.
    few = frechet_distance(rng.normal(size=(5, 128)), rng.normal(size=(7, 128)))
    assert np.isfinite(few) and few >= 0
    with pytest.raises(ValueError, match="at least|>= 2"):
        frechet_distance(a[:1], b)


def test_mean_pairwise_distance_bounds():
    e = np.eye(4)
    assert mean_pairwise_distance(e) == pytest.approx(1.0)  # orthogonal: unrelated faces
    assert mean_pairwise_distance(np.ones((3, 4))) == pytest.approx(0.0)  # all the same
    assert mean_pairwise_distance(np.stack([e[0], -e[0]])) == pytest.approx(2.0)


def test_shipped_generator_scores_are_in_range_and_repeatable(reference):
    m = evaluate_generator("dcgan64", n=24, reference=reference, seed=0)
    assert m.generator == "dcgan64" and m.n == 24 and m.n_reference >= 20
    assert 0.8 <= m.detection_rate <= 1.0  # 98 % of its samples are detected (README)
    assert m.frechet_distance >= 0 and m.reference_floor >= 0
    assert 0.0 <= m.diversity <= 2.0 and 0.0 <= m.reference_diversity <= 2.0
    again = evaluate_generator(get_generator(), n=24, reference=reference, seed=0)
    assert again.frechet_distance == pytest.approx(m.frechet_distance)


@pytest.mark.slow
def test_cli_evaluate_generator(reference):
    proc = subprocess.run(
        [*CLI, "evaluate-generator", "dcgan64", "--n", "12", "--reference", reference, "--json"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert 0 <= data["detection_rate"] <= 1 and data["frechet_distance"] >= 0
    assert 0 <= data["diversity"] <= 2
    bad = subprocess.run(
        [*CLI, "evaluate-generator", "dcgan64", "--reference", "/no/such/folder"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--reference" in bad.stderr


@pytest.mark.slow
def test_against_the_orl_faces():
    m = evaluate_generator("dcgan64", n=32, reference="orl")
    assert m.n_reference >= 390 and m.detection_rate >= 0.8
    # Two halves of ORL are closer to each other than synthetic faces are to ORL.
    assert 0 <= m.reference_floor < m.frechet_distance
    assert 0.5 < m.reference_diversity < 1.5
