"""Files `synsec setup` writes (acquis.yaml, systemd units): an existing file is never replaced unless asked, and
then its old text is kept beside it as `<name>.bak`. Writing the same text again changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["status", "place"]


def status(path: Path, text: str) -> str:
    """"new", "unchanged" or "differs" (an existing file with other content, or something not a regular file)."""
    if not os.path.lexists(path):
        return "new"
    if path.is_symlink() or not path.is_file():
        return "differs"
    try:
        return "unchanged" if path.read_text(errors="replace") == text else "differs"
    except OSError:
        return "differs"


def place(path: Path, text: str, mode: int = 0o644) -> str:
    """Write `text` at `path` atomically (a differing old file is renamed to `<name>.bak` first); a line saying
    what was done."""
    state = status(path, text)
    if state == "unchanged":
        return f"{path}: unchanged"
    path.parent.mkdir(parents=True, exist_ok=True)
    note = ""
    if state == "differs":
        backup = path.with_name(path.name + ".bak")
        os.replace(path, backup)
        note = f" (the old one is {backup})"
    tmp = path.with_name(f".{path.name}.synsec-tmp")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return f"{path}: written{note}"
