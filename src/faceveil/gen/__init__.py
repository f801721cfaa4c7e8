"""Face generators: one interface (sample, decode, invert), a registry, and the shipped DCGAN.

Names load on first use, because they import torch: ``faceveil.gen.upsample`` and the command
line stay light.
"""

import importlib

_LAZY = {
    "Generator": "faceveil.gen.base",
    "GeneratorInfo": "faceveil.gen.base",
    "default_device": "faceveil.gen.base",
    "sample_faces": "faceveil.gen.dcgan",
    "get_generator": "faceveil.gen.registry",
    "list_generators": "faceveil.gen.registry",
    "register": "faceveil.gen.registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'faceveil.gen' has no attribute {name!r}")
