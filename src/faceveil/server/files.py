"""Content-addressed file storage: ``data_dir/files/ab/abcdef...`` named by the sha256 of the
bytes, so the same upload is stored once. Names are checked, so no path can escape the store."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


def is_sha(value: str) -> bool:
    return bool(SHA_RE.match(value or ""))


class FileStore:
    """Files under `root`; ``put(data, suffix) -> sha`` and ``path(sha) -> Path``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, sha: str) -> Path:
        if not is_sha(sha):
            raise KeyError(f"not a sha256: {sha[:80]!r}")
        return self.root / sha[:2]

    def put(self, data: bytes, suffix: str = "") -> str:
        """Store `data` (once) and return its sha256; `suffix` is kept for the media type."""
        sha = hashlib.sha256(data).hexdigest()
        folder = self._dir(sha)
        found = self.find(sha)
        if found is not None:  # stored again: fresh for the retention sweep (server.retention)
            try:
                os.utime(found)
            except FileNotFoundError:  # swept meanwhile: store it anew
                pass
            else:
                return sha
        suffix = suffix.lower() if _SUFFIX.match(suffix.lower() or "-") else ""
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / (sha + suffix))  # atomic: readers never see half a file
        return sha

    def put_file(self, src: str | Path, suffix: str | None = None) -> str:
        src = Path(src)
        return self.put(src.read_bytes(), src.suffix if suffix is None else suffix)

    def find(self, sha: str) -> Path | None:
        """The stored file of `sha`, or None (also for anything that is not a sha)."""
        if not is_sha(sha):
            return None
        folder = self.root / sha[:2]
        if not folder.is_dir():
            return None
        for p in folder.iterdir():
            if p.name.split(".", 1)[0] == sha and not p.name.startswith(".tmp-"):
                return p
        return None

    def path(self, sha: str) -> Path:
        """The stored file of `sha`; KeyError when unknown."""
        found = self.find(sha)
        if found is None:
            raise KeyError(f"no stored file {sha[:80]!r}")
        return found

    def __contains__(self, sha: str) -> bool:
        return self.find(sha) is not None

    def delete(self, sha: str) -> bool:
        found = self.find(sha)
        if found is None:
            return False
        found.unlink(missing_ok=True)
        return True
