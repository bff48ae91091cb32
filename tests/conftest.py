"""Fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    """The repository's root folder (where README.md and projects/ live)."""
    return REPO_ROOT


@pytest.fixture
def make_wav(tmp_path: Path) -> Callable[..., Path]:
    """Write a quiet 220 Hz mono wav into tmp_path: `make_wav("song.wav", seconds=10.0)`."""

    def make(name: str = "song.wav", seconds: float = 10.0, sr: int = 22050) -> Path:
        t = np.arange(int(round(seconds * sr))) / sr
        path = tmp_path / name
        sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
        return path

    return make
