"""Anonymisation: a method registry, the per-face compositor and the image/folder/video runner."""

# Importing a method module registers its methods; the classical ones first, so that blur, the
# default, leads every list of methods (help, the form, /health).
from faceveil.anonymize import classical  # noqa: F401

# isort: split
from faceveil.anonymize import attributes, cloak, ksame, synth  # noqa: F401
from faceveil.anonymize.apply import apply_to_faces
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import METHODS, Method, get_method, register
from faceveil.anonymize.report import BatchReport, FileReport
from faceveil.anonymize.runner import Anonymized, anonymize, anonymize_paths
from faceveil.anonymize.video import anonymize_video

__all__ = [
    "METHODS",
    "AnonymizeOptions",
    "Anonymized",
    "BatchReport",
    "FileReport",
    "Method",
    "anonymize",
    "anonymize_paths",
    "anonymize_video",
    "apply_to_faces",
    "get_method",
    "register",
]
