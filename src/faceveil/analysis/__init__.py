"""Face analysis: identity embeddings and verification, the gallery, attributes and landmarks."""

from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_face, embed_faces

__all__ = ["SFACE_THRESHOLD", "cosine", "embed_face", "embed_faces"]
