"""faceveil: detect, anonymise and audit faces in photos, folders and video.

>>> import faceveil
>>> faces = faceveil.detect("photo.jpg")                      # doctest: +SKIP
>>> out, report = faceveil.anonymize("photo.jpg", "pixelate")  # doctest: +SKIP
>>> faceveil.verify("a.jpg", "b.jpg").same_person              # doctest: +SKIP
>>> faceveil.audit("photo.jpg", "photo.blurred.jpg").summary()  # doctest: +SKIP
>>> faces = faceveil.generate(16, seed=0, size=256)            # doctest: +SKIP
>>> fixed = faceveil.restore("masked.jpg").image                 # doctest: +SKIP
"""

from faceveil._version import __version__
from faceveil.analysis import (
    EMOTIONS,
    FaceAttributes,
    Gallery,
    Match,
    VerifyResult,
    analyze,
    analyze_faces,
    verify,
)
from faceveil.anonymize import (
    METHODS,
    Anonymized,
    AnonymizeOptions,
    BatchReport,
    FileReport,
    anonymize,
    anonymize_paths,
    anonymize_video,
)
from faceveil.audit import AuditReport, audit
from faceveil.detect import detect
from faceveil.errors import FaceveilError, InputError, ModelNotFoundError, OutputError
from faceveil.faces import Face
from faceveil.io.images import read_image, write_image
from faceveil.restore import Restoration, restore

# The generative API imports torch (about a second): load it on first use only.
_LAZY = {
    "Generator": "faceveil.gen.base",
    "GeneratorInfo": "faceveil.gen.base",
    "get_generator": "faceveil.gen.registry",
    "list_generators": "faceveil.gen.registry",
    "edit": "faceveil.gen.directions",
    "InversionResult": "faceveil.gen.invert",
    "invert": "faceveil.gen.invert",
    "mix": "faceveil.gen.mix",
    "generate": "faceveil.gen.synthesis",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'faceveil' has no attribute {name!r}")


__all__ = [
    "EMOTIONS",
    "METHODS",
    "AuditReport",
    "FaceAttributes",
    "Generator",
    "GeneratorInfo",
    "InversionResult",
    "Gallery",
    "Match",
    "VerifyResult",
    "AnonymizeOptions",
    "Anonymized",
    "BatchReport",
    "Face",
    "FaceveilError",
    "FileReport",
    "InputError",
    "ModelNotFoundError",
    "OutputError",
    "Restoration",
    "__version__",
    "analyze",
    "analyze_faces",
    "anonymize",
    "anonymize_paths",
    "anonymize_video",
    "audit",
    "detect",
    "edit",
    "generate",
    "get_generator",
    "invert",
    "list_generators",
    "mix",
    "read_image",
    "restore",
    "verify",
    "write_image",
]
