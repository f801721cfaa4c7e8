"""Face generators that ship with their weights (no downloads). For tests, demos and benchmarks."""

from faceveil.gen.dcgan import sample_faces

__all__ = ["sample_faces"]
