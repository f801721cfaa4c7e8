"""Image and video reading/writing, metadata, atomic output."""

from faceveil.io.atomic import atomic_output
from faceveil.io.images import (
    IMAGE_EXTENSIONS,
    LoadedImage,
    load_image,
    read_image,
    to_rgb8,
    write_image,
)
from faceveil.io.video import VIDEO_EXTENSIONS, probe_video

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "LoadedImage",
    "atomic_output",
    "load_image",
    "probe_video",
    "read_image",
    "to_rgb8",
    "write_image",
]
