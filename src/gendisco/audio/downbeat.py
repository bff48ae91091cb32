"""Downbeats: how many beats to the bar, and which beat starts it.

Chords change on the bar (Goto 2001; Papadopoulos and Peeters 2011): the harmonic content
after a downbeat differs most from the content before it. That contrast is measured at
three time scales (one beat, half a bar, a bar), so a passing melody note does not count
as much as a new chord held for a bar. The meter is the bar length (3 or 4 beats) at
which the contrast depends most on the position in the bar; the position of each beat in
its bar is then a Viterbi path, so one beat too many or too few from the tracker shifts
the bars once instead of for the rest of the song.
"""

from __future__ import annotations

import numpy as np

from gendisco.audio.segment import beat_sync

METERS = (3, 4)
# Most music has bars of 2 or 4 beats: a triple bar must show a clearly stronger pattern,
# and one that chance does not explain (a contrast of 2 noise units, one-sided p ~ 0.02)
TRIPLE_EVIDENCE_RATIO = 1.5
SIGNIFICANT_CONTRAST = 2.0
# log-probability cost of a beat that breaks the bar count (a tracking error, a bar of
# another length); the evidence has unit spread per beat, so only several bars of clearly
# better evidence for another phase pay for it
BAR_RESET_COST = 8.0


def _windowed_change(sync: np.ndarray, width: int) -> np.ndarray:
    """1 - cosine similarity of the mean chroma of the `width` beats before each beat and
    the `width` beats from it, z-scored; 0 (no evidence) where a window would be cut short
    by the start or end of the song, as a half-empty window looks like a change."""
    n = sync.shape[1]
    out = np.zeros(n)
    inside = np.arange(width, n - width + 1)
    if inside.size < 2:
        return out
    cumsum = np.concatenate([np.zeros((sync.shape[0], 1)), np.cumsum(sync, axis=1)], axis=1)
    before = cumsum[:, inside] - cumsum[:, inside - width]
    after = cumsum[:, inside + width] - cumsum[:, inside]
    norm = np.linalg.norm(before, axis=0) * np.linalg.norm(after, axis=0)
    change = 1.0 - np.sum(before * after, axis=0) / np.maximum(norm, 1e-12)
    out[inside] = (change - change.mean()) / (change.std() + 1e-9)
    return out


def bar_evidence(chroma_sync: np.ndarray, meter: int) -> np.ndarray:
    """Downbeat evidence per beat for bars of `meter` beats: the sum of the z-scored
    harmonic changes over one beat, half a bar and a bar, scaled to unit spread."""
    widths = sorted({1, (meter + 1) // 2, meter})
    total = sum(_windowed_change(chroma_sync, w) for w in widths)
    return total / (total.std() + 1e-9)


def phase_contrast(evidence: np.ndarray, meter: int) -> float:
    """How much the evidence depends on the position in bars of `meter` beats: the best
    position's mean minus the others', in units of the noise of such a mean."""
    usable = evidence.size - evidence.size % meter
    by_position = evidence[:usable].reshape(-1, meter).mean(axis=0)
    best = int(np.argmax(by_position))
    noise = evidence.std() / np.sqrt(usable / meter) + 1e-9
    return float((by_position[best] - np.delete(by_position, best).mean()) / noise)


def bar_positions(evidence: np.ndarray, meter: int) -> np.ndarray:
    """Position in the bar (0 = downbeat) of each beat: Viterbi over positions, where
    a beat advances the position by one and breaking that costs BAR_RESET_COST."""
    n = evidence.size
    emission = np.zeros((n, meter))
    emission[:, 0] = evidence
    score = emission[0].copy()
    back = np.zeros((n, meter), dtype=int)
    for i in range(1, n):
        advance = np.roll(score, 1)  # position k-1 -> k, and meter-1 -> 0
        best_any = int(np.argmax(score))
        reset = score[best_any] - BAR_RESET_COST
        take_reset = reset > advance
        back[i] = np.where(take_reset, best_any, (np.arange(meter) - 1) % meter)
        score = np.where(take_reset, reset, advance) + emission[i]
    path = np.empty(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def downbeats(beat_frames: np.ndarray, chroma: np.ndarray) -> tuple[np.ndarray, int]:
    """(indices of the downbeats among the beats, beats per bar).

    Fewer than two bars of beats: the first beat, bars of 4.
    """
    if beat_frames.size < 8:
        return np.arange(min(beat_frames.size, 1)), 4
    sync = beat_sync(chroma, beat_frames)
    # each beat's chroma at unit length, so loud and quiet beats weigh the same in a window
    sync = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-10)
    evidence = {m: bar_evidence(sync, m) for m in METERS}
    contrast = {m: phase_contrast(evidence[m], m) for m in METERS}
    triple = contrast[3] >= SIGNIFICANT_CONTRAST
    meter = 3 if triple and contrast[3] > TRIPLE_EVIDENCE_RATIO * contrast[4] else 4
    positions = bar_positions(evidence[meter], meter)
    return np.flatnonzero(positions == 0), meter
