"""The folder walk of folder runs: the media files under a folder, and why others are not.

Hidden files and folders (a leading dot: ``.DS_Store``, ``.git``, faceveil's own temp files)
are passed over silently. Symlinked folders are followed unless they lead back into the walk
(a loop); a symlinked file counts as the file it points to.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple


class Skipped(NamedTuple):
    """A file a folder run passes over, and why."""

    path: Path
    reason: str  # "unsupported format .gif", "dangling link", "symlink loop", ...


def hidden(name: str) -> bool:
    """True for names a folder run never takes or reports (a leading dot)."""
    return name.startswith(".")


def unsupported(name: str, extensions: Iterable[str]) -> str | None:
    """Why a file named `name` is not a media input, or None when it is one."""
    ext = os.path.splitext(name)[1].lower()
    if ext in {e.lower() for e in extensions}:
        return None
    return f"unsupported format {ext}" if ext else "unsupported format (no extension)"


def _key(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _link_reason(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else "dangling link"
    return "not a regular file"


def media_files(
    folder: str | Path, extensions: Iterable[str], exclude: Iterable[str | Path] = ()
) -> tuple[list[Path], list[Skipped]]:
    """Every file under `folder` with one of `extensions` (any case), and the skipped ones.

    Parameters
    ----------
    folder : the folder to walk, recursively.
    extensions : the suffixes to take, with their dot (``".jpg"``).
    exclude : folders not to enter (the run's output folder, say); compared as the folders
        they are, whatever path leads to them.

    Returns
    -------
    (files, skipped), each sorted by path: the files to process, and a :class:`Skipped` for
    every other non-hidden entry that is not a folder (other formats, dangling links, loops).
    """
    exts = [e.lower() for e in extensions]
    excluded = {k for k in map(_key, exclude) if k is not None}
    files: list[Path] = []
    skipped: list[Skipped] = []
    root = Path(folder)
    # Each folder goes with the (device, inode) keys of the folders above it: a symlinked
    # folder whose key is among them leads back up, and is not entered.
    stack = [(root, frozenset({_key(root)}))]
    while stack:
        here, above = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = list(it)
        except OSError as exc:
            skipped.append(Skipped(here, f"cannot read folder ({exc.strerror or exc})"))
            continue
        for entry in entries:
            if hidden(entry.name):
                continue
            path = here / entry.name
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()  # both follow symlinks
            except OSError:  # a link to itself (ELOOP), unreadable
                is_dir = is_file = False
            if is_dir:
                key = _key(path)
                if key in above:
                    skipped.append(Skipped(path, "symlink loop"))
                elif key not in excluded:
                    stack.append((path, above | {key}))
            elif is_file:
                reason = unsupported(entry.name, exts)
                if reason is None:
                    files.append(path)
                else:
                    skipped.append(Skipped(path, reason))
            elif entry.is_symlink():
                skipped.append(Skipped(path, _link_reason(path)))
            # sockets, pipes and devices are not files anyone asked to anonymise
    return sorted(files), sorted(skipped)
