"""A host's file tree seen from a root directory (`synsec setup --root DIR`): absolute paths of the host are read
below DIR, and symlinks, absolute ones included, resolve inside it. Reads are capped and never raise."""

from __future__ import annotations

import glob as globmod
import os
import stat
from pathlib import Path, PurePosixPath

__all__ = ["Root", "MAX_READ_BYTES"]

MAX_READ_BYTES = 1024 * 1024
_MAX_LINKS = 40


class Root:
    """The host below `base`; every path argument is the host's absolute path (`/etc/nginx/nginx.conf`)."""

    def __init__(self, base: str | Path) -> None:
        self.base = Path(base)

    def host(self, path: str) -> Path | None:
        """The file below `base` that the host path names, symlinks followed inside the root (None on a loop or
        an unreadable directory on the way)."""
        try:
            return self._resolve(path)
        except OSError:
            return None

    def _resolve(self, path: str) -> Path | None:
        todo = [p for p in PurePosixPath(path).parts if p != "/"]
        done: list[str] = []
        links = 0
        while todo:
            part = todo.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            here = self.base.joinpath(*done, part)
            if here.is_symlink():
                links += 1
                if links > _MAX_LINKS:
                    return None
                target = os.readlink(here)
                if target.startswith("/"):
                    done = []
                todo = [p for p in PurePosixPath(target).parts if p != "/"] + todo
                continue
            done.append(part)
        return self.base.joinpath(*done)

    def exists(self, path: str) -> bool:
        real = self.host(path)
        try:
            return real is not None and real.exists()
        except OSError:                     # a directory on the way we may not search
            return False

    def is_file(self, path: str) -> bool:
        """A regular file (a log path that is a link to /dev/stdout is not one)."""
        real = self.host(path)
        try:
            return real is not None and stat.S_ISREG(real.stat().st_mode)
        except OSError:
            return False

    def read_text(self, path: str, max_bytes: int = MAX_READ_BYTES) -> str | None:
        """A regular file's text (at most `max_bytes`, undecodable bytes replaced), None when it cannot be read."""
        if not self.is_file(path):
            return None
        try:
            with open(self.host(path), "rb") as fh:
                return fh.read(max_bytes).decode("utf-8", "replace")
        except OSError:
            return None

    def glob(self, pattern: str) -> list[str]:
        """Host paths matching an absolute glob, sorted; the part before the first wildcard resolves in the root."""
        parts = [p for p in PurePosixPath(pattern).parts if p != "/"]
        fixed = []
        for part in parts:
            if globmod.has_magic(part):
                break
            fixed.append(part)
        rest = parts[len(fixed):]
        prefix = "/" + "/".join(fixed)
        if not rest:
            return [prefix] if self.exists(prefix) else []
        real = self.host(prefix)
        try:
            if real is None or not real.is_dir():
                return []
            found = globmod.glob(os.path.join(globmod.escape(str(real)), *rest))
        except OSError:
            return []
        return sorted(prefix.rstrip("/") + "/" + os.path.relpath(f, real) for f in found)

    def files(self, pattern: str) -> list[str]:
        """The regular files an absolute path or glob names."""
        return [p for p in self.glob(pattern) if self.is_file(p)]
