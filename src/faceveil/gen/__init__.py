"""Face generators: one interface (sample, decode, invert), a registry, and the shipped DCGAN."""

from faceveil.gen.base import Generator, GeneratorInfo, default_device
from faceveil.gen.dcgan import sample_faces
from faceveil.gen.registry import get_generator, list_generators, register

__all__ = [
    "Generator",
    "GeneratorInfo",
    "default_device",
    "get_generator",
    "list_generators",
    "register",
    "sample_faces",
]
