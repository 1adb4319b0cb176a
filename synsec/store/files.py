"""The state directory and the files in it are private to the user running synsec: directories 0700, files
0600 (they hold attack sources, bouncer key hashes and run state). An existing state directory or database
readable by others (created by an older synsec, 0755/0644) is tightened when it is opened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["private_dir", "private_file", "DIR_MODE", "FILE_MODE"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create `path` (parents with the usual umask, the directory itself 0700) or tighten it to 0700."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """Create `path` empty with mode 0600 if it does not exist, else tighten it to 0600; the caller then
    opens it as it likes (SQLite gives its -wal and -shm files the database file's mode)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)
    return path


def _tighten(path: Path, mode: int) -> None:
    st = path.stat()
    if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
