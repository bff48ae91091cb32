"""Comparisons that GPU and CPU tests share: whether frames in another precision are the
same frames, and the GPU speeds committed with the benchmarks.

Each criterion comes with its controls (a flat grey picture, the frames in reverse order)
that it must reject, so a criterion loose enough to pass anything shows up as a failing
test instead of a passing one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
# Lower precision moves a frame of the tiny model by 8.2 grey levels on average (bf16 against
# fp32 on the CPU); a flat grey picture is 32.2 away and the frames in reverse order 27.1.
MEAN_GREY_LEVELS = 16.0


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def same_frames_in_lower_precision(candidate: np.ndarray, reference: np.ndarray) -> bool:
    """True when `candidate` (N, H, W, 3) shows the frames of `reference` in another
    precision: on average within MEAN_GREY_LEVELS, and each frame closer to its own
    reference frame than to any other frame of the sequence (the order is right)."""
    if candidate.shape != reference.shape:
        return False
    if mean_difference(candidate, reference) >= MEAN_GREY_LEVELS:
        return False
    count = len(reference)
    for i in range(count):
        own = mean_difference(candidate[i], reference[i])
        others = [mean_difference(candidate[i], reference[j]) for j in range(count) if j != i]
        if others and own >= min(others):
            return False
    return True


def controls(reference: np.ndarray) -> dict[str, np.ndarray]:
    """Frames that are not `reference` in another precision: the criterion must reject them."""
    grey = np.full_like(reference, int(round(float(reference.mean()))))
    return {"flat grey": grey, "reverse order": reference[::-1].copy()}


# (model, size, steps, guidance, vae, batch): the GPU speed tests, each a row of the
# committed `model-speed-cuda` table
GPU_SPEED_CASES = [
    ("random:sd15", 512, 25, 7.5, "default", 8),
    ("random:sd-turbo", 512, 1, 0.0, "default", 16),
    ("random:sd-turbo", 512, 1, 0.0, "tiny", 16),
    ("random:sdxl", 1024, 1, 0.0, "tiny", 16),
]


def speed_label(model: str, size: int, steps: int, guidance: float) -> str:
    """The row label benchmarks/model_speed.py writes (`Config.label`)."""
    cfg = f", CFG {guidance:g}" if guidance > 1 else ""
    return f"{model} {size}px {steps} step{'s' * (steps > 1)}{cfg}"


_SECTION = re.compile(r"<!-- model-speed-cuda -->(.*?)<!-- /model-speed-cuda -->", re.S)


def committed_gpu_fps(label: str, vae: str, batch: int, text: str | None = None) -> float | None:
    """Frames/s committed for this model row (`label` as benchmarks/model_speed.py writes
    it), VAE and batch: from benchmarks/results/model_speed_cuda.json when a GPU run wrote
    it, else from the raw rows of BENCHMARKS.md's `model-speed-cuda` table."""
    results = REPO_ROOT / "benchmarks" / "results" / "model_speed_cuda.json"
    if text is None and results.exists():
        for row in json.loads(results.read_text())["rows"]:
            if (row["config"], row["vae"], row["batch"]) == (label, vae, batch):
                return row["frames_per_s"]
        return None
    if text is None:
        text = (REPO_ROOT / "BENCHMARKS.md").read_text()
    section = _SECTION.search(text)
    if section is None:
        return None
    for line in section.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[:3] == [label, vae, str(batch)]:
            try:
                return float(cells[3])
            except ValueError:
                return None
    return None
