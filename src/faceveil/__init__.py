"""faceveil: detect, anonymise and audit faces in photos, folders and video.

>>> import faceveil
>>> faces = faceveil.detect("photo.jpg")                      # doctest: +SKIP
>>> out, report = faceveil.anonymize("photo.jpg", "pixelate")  # doctest: +SKIP
"""

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
from faceveil.detect import Face, detect
from faceveil.errors import FaceveilError, InputError, ModelNotFoundError, OutputError
from faceveil.io.images import read_image, write_image

__version__ = "0.1.0"

__all__ = [
    "METHODS",
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
    "anonymize",
    "anonymize_paths",
    "anonymize_video",
    "detect",
    "read_image",
    "write_image",
]
