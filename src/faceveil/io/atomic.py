"""Atomic file output: write a hidden temp file beside the target, then rename.

Temp names are ``.NAME.faceveil-<host>-<pid>-<random>.EXT``: ``<host>`` is a short hash of
this machine's name and ``<pid>`` the writer's process id, so a run killed before its rename
(SIGKILL, power loss) leaves a file that :func:`sweep_stale_temp` can tell from a live
writer's. Errors name the target, never the temp file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from faceveil.errors import FaceveilError, OutputError

log = logging.getLogger(__name__)
TEMP_MARK = ".faceveil-"
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_TEMP_NAME = re.compile(r"^\..*\.faceveil-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[a-z0-9_]+(\.\w+)?$")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def temp_prefix(target: Path) -> str:
    """The start of a temp name for `target`, carrying this host and process."""
    return f".{target.stem}{TEMP_MARK}{_HOST}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # no cheap, safe liveness probe: never sweep
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def is_stale_temp(path: Path) -> bool:
    """True for a temp file of faceveil's naming whose writer (on this host) is gone."""
    m = _TEMP_NAME.match(path.name)
    return m is not None and m["host"] == _HOST and not _pid_alive(int(m["pid"]))


def sweep_stale_temp(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Delete the temp files a killed faceveil run left in `folder`.

    Only files of :func:`atomic_output`'s naming written on this host by a process that is no
    longer running; a live run's temp files and every other file are kept.

    Parameters
    ----------
    folder : the folder to clean (a missing one has nothing to clean).
    recursive : also clean every folder below it (symlinks are not followed).

    Returns
    -------
    The paths removed.
    """
    if recursive:
        return [p for here, _, _ in os.walk(folder) for p in sweep_stale_temp(here)]
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # missing or unreadable: nothing of ours to sweep
        return removed
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith(".") and is_stale_temp(path) and entry.is_file():
            try:
                path.unlink()
            except OSError as exc:
                log.debug("cannot remove stale temp file %s: %s", path, exc)
            else:
                removed.append(path)
    return removed


def _public_error(exc: Exception, tmp: Path | None, target: Path) -> Exception:
    """`exc` in terms of the user's target: a full disk in plain words, no temp name."""
    text = str(exc)
    if getattr(exc, "errno", None) in _NO_SPACE or "no space left on device" in text.lower():
        public = OutputError(f"{target}: no space left on device")
        public.errno = errno.ENOSPC
        return public
    if tmp is None or (str(tmp) not in text and tmp.name not in text):
        return exc
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, FaceveilError):
        return OutputError(f"{target}: {exc.strerror[:1].lower()}{exc.strerror[1:]}")
    text = text.replace(str(tmp), str(target)).replace(tmp.name, target.name)
    try:
        return type(exc)(text) if isinstance(exc, FaceveilError) else OutputError(text)
    except TypeError:  # an exception class with its own constructor
        return OutputError(text)


@contextlib.contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `target` on success.

    On any exception (and on SIGTERM, which the CLI turns into SystemExit) the temporary file
    is removed, so no partial output is left. The temp name keeps the target's extension,
    which ffmpeg and image encoders rely on. A full disk raises
    ``OutputError("<target>: no space left on device")``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=target.parent, prefix=temp_prefix(target), suffix=target.suffix
        )
    except OSError as exc:  # its filename is the temp file's or the folder's
        public = _public_error(exc, Path(exc.filename) if exc.filename else None, target)
        if public is exc:
            raise
        raise public from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not tmp_path.exists() or tmp_path.stat().st_size == 0:
            raise OutputError(f"{target}: nothing was written")
        # mkstemp makes 0600 files: give the output the mode a normal write would have.
        umask = os.umask(0)
        os.umask(umask)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~umask
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except Exception as exc:
        public = _public_error(exc, tmp_path, target)
        if public is exc:
            raise
        raise public from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
