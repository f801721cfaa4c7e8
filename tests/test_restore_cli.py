"""`faceveil restore` on the command line: output, the four steps, the JSON report, and the
one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.data
from PIL import Image
from typer.testing import CliRunner

from faceveil.cli import app


@pytest.fixture(scope="module")
def masked(tmp_path_factory):
    from faceveil.restore import occlude

    covered, truth = occlude(skimage.data.astronaut(), kind="surgical", seed=1)
    path = tmp_path_factory.mktemp("restore") / "masked.png"
    Image.fromarray(covered).save(path)
    return path, covered, truth


@pytest.fixture(scope="module")
def run(masked):
    path, _, _ = masked
    steps = path.parent / "steps"
    result = CliRunner().invoke(app, ["restore", str(path), "--steps", str(steps), "--json"])
    return result, steps


def test_restore_writes_the_result_and_the_four_steps(masked, run):
    path, covered, truth = masked
    result, steps = run
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["filled"] == 1 and "not the person's real face" in report["note"]
    assert sorted(p.name for p in steps.iterdir()) == [
        "1_generated.png",
        "2_smoothed.png",
        "3_mask.png",
        "4_result.png",
    ]
    out = np.asarray(Image.open(report["output"]).convert("RGB"))
    mask = np.asarray(Image.open(steps / "3_mask.png").convert("L")) > 127
    assert np.array_equal(out[~mask], covered[~mask])  # only the covering changes
    assert np.abs(out[truth].astype(int) - covered[truth]).mean() > 10  # the mask is filled
    assert (mask & truth).sum() / (mask | truth).sum() > 0.5  # the covering was found


def test_restore_refuses_to_overwrite_and_bad_input_is_one_line(masked, tmp_path):
    path, _, _ = masked
    same = CliRunner().invoke(app, ["restore", str(path), "-o", str(path)])
    assert same.exit_code == 2 and "refusing to overwrite the input" in same.output
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    result = CliRunner().invoke(app, ["restore", str(bad), "-o", str(tmp_path / "x.png")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()
    k = CliRunner().invoke(app, ["restore", str(path), "--smooth-k", "1"])
    assert k.exit_code == 2 and "--smooth-k" in k.output
