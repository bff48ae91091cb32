"""The analysis cache: one .npz per file content and analysis version."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# bump when the analysis changes, so cached results of an older method are not reused
ANALYSIS_VERSION = "6"


def cache_dir() -> Path:
    """Where analyses are cached: $GENDISCO_CACHE_DIR or ~/.cache/gendisco/analysis."""
    root = os.environ.get("GENDISCO_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "gendisco" / "analysis"


def file_key(path: Path) -> str:
    """sha256 of the file's content and the analysis version: names its analysis."""
    digest = hashlib.sha256(f"gendisco-analysis-{ANALYSIS_VERSION}".encode())
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_path(path: Path) -> Path:
    """Where the analysis of the song at `path` is (or would be) cached."""
    return cache_dir() / f"{file_key(path)}.npz"
