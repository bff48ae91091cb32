"""Downbeats: how many beats to the bar, and which beat starts it."""

from __future__ import annotations

import numpy as np

from gendisco.audio.segment import beat_sync
from gendisco.audio.spectrum import FPS


def downbeats(beat_frames: np.ndarray, log_mel: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """The beat phase (bars of 3 or 4) with the most bass onsets and chord changes.

    Meter is 4 unless the beat-level features repeat clearly better every 3 beats.
    """
    beats_s = beat_frames / FPS
    if beat_frames.size < 8:
        return beats_s[:1].copy()
    bass_flux = np.maximum(0.0, np.diff(log_mel[:20], axis=1)).mean(axis=0)
    bass_flux = np.concatenate([[0.0], bass_flux])
    bass = np.array([bass_flux[max(b - 2, 0) : b + 3].max() for b in beat_frames])
    sync = beat_sync(chroma, beat_frames)
    sync = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-10)
    change = np.concatenate([[0.0], 1.0 - np.sum(sync[:, 1:] * sync[:, :-1], axis=0)])
    evidence = bass / (bass.mean() + 1e-10) + change / (change.mean() + 1e-10)

    def bar_contrast(meter: int) -> tuple[float, int]:
        usable = evidence[: evidence.size - evidence.size % meter].reshape(-1, meter)
        by_phase = usable.mean(axis=0)
        best = int(np.argmax(by_phase))
        others = np.delete(by_phase, best)
        return float(by_phase[best] - others.mean()), best

    contrast4, phase4 = bar_contrast(4)
    contrast3, phase3 = bar_contrast(3)
    meter, phase = (3, phase3) if contrast3 > 1.5 * max(contrast4, 1e-9) else (4, phase4)
    return beats_s[phase::meter].copy()
