"""Sections: where the arrangement changes, from beat-synchronous timbre and harmony."""

from __future__ import annotations

import numpy as np

from gendisco.audio.spectrum import FPS


def beat_sync(features: np.ndarray, beat_frames: np.ndarray) -> np.ndarray:
    """Mean of each feature between consecutive beats, shape (features, beats)."""
    edges = np.concatenate([beat_frames, [features.shape[1]]])
    spans = zip(edges[:-1], edges[1:], strict=True)
    return np.stack([features[:, a : max(b, a + 1)].mean(axis=1) for a, b in spans], axis=1)


def sections(
    beat_frames: np.ndarray,
    log_mel: np.ndarray,
    chroma: np.ndarray,
    duration_s: float,
    downbeats: np.ndarray,
) -> np.ndarray:
    """Section boundaries from Foote novelty on a beat-synchronous self-similarity matrix.

    Features: timbre (log-mel summary) and harmony (chroma). Boundaries are at least
    8 s apart and are moved onto a downbeat when one is within a beat.
    """
    import scipy.fft
    import scipy.ndimage

    if beat_frames.size < 16:
        return np.array([0.0])
    timbre = scipy.fft.dct(log_mel, axis=0, norm="ortho")[1:14]  # MFCC-like
    feats = np.vstack([beat_sync(timbre, beat_frames), 0.5 * beat_sync(chroma, beat_frames)])
    feats = (feats - feats.mean(axis=1, keepdims=True)) / (feats.std(axis=1, keepdims=True) + 1e-9)
    # average over four bars: sections differ in texture, while beats within a bar and
    # chords within a 4-bar progression always differ
    feats = scipy.ndimage.uniform_filter1d(feats, size=16, axis=1, mode="nearest")
    feats = feats / (np.linalg.norm(feats, axis=0, keepdims=True) + 1e-9)
    ssm = feats.T @ feats
    half = 16
    sign = np.concatenate([-np.ones(half), np.ones(half)])
    taper = np.hanning(2 * half + 2)[1:-1]
    kernel = np.outer(sign * taper, sign * taper)
    padded = np.pad(ssm, half, mode="edge")
    n = ssm.shape[0]
    novelty = np.array(
        [np.sum(padded[i : i + 2 * half, i : i + 2 * half] * kernel) for i in range(n)]
    )
    novelty = np.maximum(novelty, 0.0)
    beats_s = beat_frames / FPS
    min_gap_s = 8.0
    threshold = novelty.mean() + 0.5 * novelty.std()
    order = np.argsort(novelty)[::-1]
    chosen: list[float] = []
    for i in order:
        if novelty[i] < threshold:
            break
        t = float(beats_s[i])
        # the kernel needs half its width of music on each side to mean anything
        if i < half // 2 or i > n - half // 2 or t < min_gap_s / 2 or t > duration_s - 4.0:
            continue
        if all(abs(t - c) >= min_gap_s for c in chosen):
            chosen.append(t)
    beat_s = float(np.median(np.diff(beats_s)))
    snapped = []
    for t in sorted(chosen):
        if downbeats.size:
            nearest = downbeats[np.argmin(np.abs(downbeats - t))]
            t = float(nearest) if abs(nearest - t) <= beat_s * 1.01 else t
        snapped.append(t)
    return np.array([0.0, *sorted(set(snapped))])
