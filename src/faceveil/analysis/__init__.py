"""Face analysis: identity embeddings and verification, the gallery, attributes and landmarks."""

from faceveil.analysis.attributes import EMOTIONS, FaceAttributes, analyze, analyze_faces
from faceveil.analysis.gallery import (
    Gallery,
    GalleryBackend,
    Match,
    SQLiteBackend,
    default_gallery_path,
)
from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_face, embed_faces
from faceveil.analysis.verify import FacePair, VerifyResult, verify

__all__ = [
    "EMOTIONS",
    "SFACE_THRESHOLD",
    "FaceAttributes",
    "FacePair",
    "Gallery",
    "GalleryBackend",
    "Match",
    "SQLiteBackend",
    "VerifyResult",
    "analyze",
    "analyze_faces",
    "cosine",
    "default_gallery_path",
    "embed_face",
    "embed_faces",
    "verify",
]
