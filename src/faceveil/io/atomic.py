"""Atomic file output: write a hidden temp file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `target` on success.

    On any exception the temporary file is removed, so no partial output is ever left.
    The temp name keeps the target's extension, which ffmpeg and image encoders rely on.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not tmp_path.exists() or tmp_path.stat().st_size == 0:
            raise OSError(f"nothing was written to {target}")
        # mkstemp makes 0600 files: give the output the mode a normal write would have.
        umask = os.umask(0)
        os.umask(umask)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~umask
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
