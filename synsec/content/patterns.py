"""Read grok pattern files from disk and build the engine's PatternLibrary (the engine itself opens no file)."""

from __future__ import annotations

from pathlib import Path

from synsec.engine.grok import PatternLibrary

__all__ = ["DEFAULT_PATTERNS_DIR", "pattern_files", "load_patterns"]

# The shipped defaults: CrowdSec 1.4.6's pattern files plus grokky's built-in base patterns.
DEFAULT_PATTERNS_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "patterns"


def pattern_files(directory: Path | str) -> list[Path]:
    """Pattern files under `directory`, recursively, sorted by relative path; hidden files and *.md skipped."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"grok patterns directory not found: {root}")
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.suffix == ".md" or not path.is_file():
            continue
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_patterns(directory: Path | str | None = None) -> PatternLibrary:
    """A PatternLibrary from every pattern file under `directory` (default: the repo's scenarios/patterns)."""
    root = Path(directory) if directory is not None else DEFAULT_PATTERNS_DIR
    texts = [(str(p), p.read_text(encoding="utf-8")) for p in pattern_files(root)]
    return PatternLibrary.from_texts(texts)
