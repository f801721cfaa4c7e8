"""faceveil: detect, anonymise and audit faces in photos, folders and video.

>>> import faceveil
>>> faces = faceveil.detect("photo.jpg")                      # doctest: +SKIP
>>> out, report = faceveil.anonymize("photo.jpg", "pixelate")  # doctest: +SKIP
>>> faceveil.verify("a.jpg", "b.jpg").same_person              # doctest: +SKIP
>>> faceveil.audit("photo.jpg", "photo.blurred.jpg").summary()  # doctest: +SKIP
"""

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
from faceveil.detect import Face, detect
from faceveil.errors import FaceveilError, InputError, ModelNotFoundError, OutputError
from faceveil.io.images import read_image, write_image

__version__ = "0.1.0"

__all__ = [
    "EMOTIONS",
    "METHODS",
    "AuditReport",
    "FaceAttributes",
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
    "__version__",
    "analyze",
    "analyze_faces",
    "anonymize",
    "anonymize_paths",
    "anonymize_video",
    "audit",
    "detect",
    "read_image",
    "verify",
    "write_image",
]
