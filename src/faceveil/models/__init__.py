"""Locating shipped weights, and one small wrapper per model."""

from faceveil.models.weights import WEIGHTS, ShippedWeight, weight_path

__all__ = ["WEIGHTS", "ShippedWeight", "weight_path"]
