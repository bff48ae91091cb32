"""Tempo: periodicity of the beat accent, a local tempo path, and tempo segments.

The path gives the beat tracker a period to follow at each moment; it does not decide
the metrical level a listener taps (that is `beat.choose_level`), only the family of
related tempi, which the harmonic salience keeps free of 3:2 confusions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gendisco.audio.spectrum import FPS

MIN_BPM, MAX_BPM = 40.0, 240.0  # the range annotators tap in, with room for slow ballads
AC_WINDOW = 384  # frames (~8.9 s) per local autocorrelation: two bars at 55 BPM
AC_STEP = 8  # frames (~0.19 s) between windows: finer than any tempo change worth following
BINS_PER_OCTAVE = 36  # tempo grid: ~2 % steps, below the 4 % a listener notices
# A broad preference for moderate tempi only to settle the path's octave while tracking
# (Ellis 2007, librosa's default); the octave a listener taps is chosen afterwards.
PATH_PRIOR_BPM, PATH_PRIOR_OCTAVES = 120.0, 1.0
PATH_LEVEL_OCTAVES = 0.35  # how far the local path may stray from the song's main tempo
OCTAVE_JUMP_COST = 25.0  # log-score per octave of change between windows ~0.19 s apart
# A window's salience is measured against what the song's clearly periodic windows reach
# (this percentile of the windows' peaks), not against its own peak: a breakdown, a quiet
# bridge or the fade at the end has little periodicity, and its best tempo must not outvote
# the song's tempo as if it were as sure. PATH_EVIDENCE_FLOOR keeps such a window's
# log-scores close together (it says little), and bounds the cost of any tempo in one window.
PATH_REFERENCE_PERCENTILE = 90
PATH_EVIDENCE_FLOOR = 0.05


class TempoSegment(NamedTuple):
    """A stretch of steady tempo: from `start_s` to `end_s` at `bpm` (its mean beat rate)."""

    start_s: float
    end_s: float
    bpm: float


def local_autocorrelation(accent: np.ndarray) -> np.ndarray:
    """Autocorrelation of the accent envelope in sliding Hann windows, every AC_STEP frames.

    The envelope is high-passed (minus its 1-s moving average, half-wave rectified) so the
    autocorrelation measures periodicity, not loudness. Returns shape (windows, lags),
    each row divided by its lag-0 value (all zeros for a silent window).
    """
    import scipy.fft
    import scipy.ndimage

    trend = scipy.ndimage.uniform_filter1d(accent, size=int(FPS), mode="nearest")
    novelty = np.maximum(accent - trend, 0.0)
    max_lag = int(np.ceil(4 * 60.0 * FPS / MIN_BPM)) + 2  # room for the 4th multiple
    pad = AC_WINDOW // 2
    padded = np.pad(novelty, pad, mode="constant")
    starts = np.arange(0, novelty.size, AC_STEP)
    frames = np.lib.stride_tricks.sliding_window_view(padded, AC_WINDOW)[starts]
    frames = frames * np.hanning(AC_WINDOW)
    n_fft = 1 << int(np.ceil(np.log2(AC_WINDOW + max_lag)))
    power = np.abs(scipy.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    ac = scipy.fft.irfft(power, n=n_fft, axis=1)[:, : min(max_lag, AC_WINDOW)]
    energy = ac[:, :1]
    return np.where(energy > 0, ac / np.maximum(energy, 1e-20), 0.0)


def harmonic_salience(ac: np.ndarray, bpm_grid: np.ndarray) -> np.ndarray:
    """Salience of each tempo: autocorrelation at the beat period times its mean at 2, 3
    and 4 periods, shape (windows, len(bpm_grid)).

    A true beat period is supported both at its own lag and at its multiples (half-bar and
    bar lags). A 3:2 period fails at 3x (4.5 beats), an off-beat (double) period fails at
    its own lag, so the product separates them where a single peak does not.
    """
    lag = 60.0 * FPS / bpm_grid
    last = ac.shape[1] - 1

    def at(k: int) -> np.ndarray:
        where = np.clip(k * lag, 0, last)
        lo = np.floor(where).astype(int)
        hi = np.minimum(lo + 1, last)
        frac = where - lo
        return np.maximum(ac[:, lo] * (1 - frac) + ac[:, hi] * frac, 0.0)

    return at(1) * (at(2) + at(3) + at(4)) / 3.0


def _log_normal(bpm: np.ndarray, centre: float, octaves: float) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(bpm / centre) / octaves) ** 2)


def tempo_path(accent: np.ndarray) -> np.ndarray | None:
    """Beat period (frames, fractional) at each frame, or None when nothing is periodic.

    A Viterbi path over log-spaced tempi through the local harmonic salience: the cost of
    a step is linear in its size in octaves, so drift is followed, a sustained tempo
    change is taken once its evidence outweighs the jump (a few seconds), and octave flips
    between neighbouring windows are not. Windows weigh by how periodic they are, so a
    breakdown keeps the tempo of the music around it.
    """
    ac = local_autocorrelation(accent)
    n_bins = int(np.log2(MAX_BPM / MIN_BPM) * BINS_PER_OCTAVE) + 1
    bpm_grid = MIN_BPM * 2.0 ** (np.arange(n_bins) / BINS_PER_OCTAVE)
    salience = harmonic_salience(ac, bpm_grid)
    active = ac[:, 0] > 0
    if not active.any() or salience[active].max() <= 0:
        return None
    # the song's main tempo anchors the path's octave; the path may drift or step from it
    prior = _log_normal(bpm_grid, PATH_PRIOR_BPM, PATH_PRIOR_OCTAVES)
    main_bpm = bpm_grid[np.argmax(salience[active].mean(axis=0) * prior)]
    scores = salience * _log_normal(bpm_grid, main_bpm, PATH_LEVEL_OCTAVES)
    reference = np.percentile(scores[active].max(axis=1), PATH_REFERENCE_PERCENTILE)
    log_emission = np.log(np.minimum(scores / (reference + 1e-12), 1.0) + PATH_EVIDENCE_FLOOR)
    log_emission[~active] = 0.0  # silent windows carry no evidence
    octaves = np.log2(bpm_grid)
    transition = -OCTAVE_JUMP_COST * np.abs(octaves[:, None] - octaves[None, :])
    n, m = log_emission.shape
    back = np.zeros((n, m), dtype=np.int32)
    score = log_emission[0].copy()
    for i in range(1, n):
        cand = score[:, None] + transition  # (from, to)
        back[i] = np.argmax(cand, axis=0)
        score = cand[back[i], np.arange(m)] + log_emission[i]
    path = np.empty(n, dtype=int)
    path[-1] = int(np.argmax(score))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    n_frames = accent.size
    bpm = np.interp(np.arange(n_frames), np.arange(n) * AC_STEP, bpm_grid[path])
    return 60.0 * FPS / bpm


CURVE_SPAN = 4  # beats each local tempo is measured over: frame rounding (~23 ms) averages out


def tempo_curve(beats_s: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Local tempo (BPM) at each time: the mean rate over CURVE_SPAN beats centred on each
    beat, then a median over three neighbours so one misplaced beat does not show."""
    import scipy.ndimage

    n = beats_s.size
    if n < 2:
        return np.zeros(times_s.size)
    index = np.arange(n)
    lo = np.clip(index - CURVE_SPAN // 2, 0, n - 1)
    hi = np.clip(index + CURVE_SPAN // 2, 0, n - 1)
    lo, hi = np.where(hi == lo, lo - 1, lo).clip(0), np.where(hi == lo, hi + 1, hi).clip(max=n - 1)
    rate = 60.0 * (hi - lo) / (beats_s[hi] - beats_s[lo])
    rate = scipy.ndimage.median_filter(rate, size=min(3, n), mode="nearest")
    return np.interp(times_s, beats_s, rate)


TEMPO_CHANGE = 0.08  # a beat period that moves this much (8 %) and stays is a new tempo
TEMPO_WINDOW = 8  # beats on each side that must agree on it (two bars of 4/4)


def tempo_changes(beats_s: np.ndarray) -> list[int]:
    """Indices of the beats where a sustained tempo change starts.

    Compares the median inter-beat interval of the TEMPO_WINDOW beats before each beat
    with that of the TEMPO_WINDOW after it (medians ignore a misplaced beat); a steady
    drift (rubato, a slow accelerando) stays below TEMPO_CHANGE over that span.
    """
    ibi = np.diff(beats_s)
    w = TEMPO_WINDOW
    if ibi.size < 2 * w:
        return []
    score = np.zeros(ibi.size)
    for i in range(w, ibi.size - w + 1):
        before, after = np.median(ibi[i - w : i]), np.median(ibi[i : i + w])
        score[i] = abs(np.log(after / before))
    threshold = np.log1p(TEMPO_CHANGE)
    found: list[int] = []
    for i in np.argsort(score, kind="stable")[::-1]:
        if score[i] <= threshold:
            break
        if all(abs(int(i) - j) >= w for j in found):
            found.append(int(i))
    # medians plateau for a few beats around a step; the mean of log periods peaks on it
    log_ibi = np.log(ibi)
    located = []
    for i in found:
        near = range(max(w, i - w // 2), min(ibi.size - w, i + w // 2) + 1)
        step = [abs(log_ibi[j : j + w].mean() - log_ibi[j - w : j].mean()) for j in near]
        located.append(near[int(np.argmax(step))])
    return sorted(located)


def tempo_segments(beats_s: np.ndarray, duration_s: float) -> tuple[TempoSegment, ...]:
    """Stretches of steady tempo covering the song, split at each sustained tempo change
    (on its first beat). One segment for a steady song, none without a beat.

    Neighbours whose overall tempi differ by less than TEMPO_CHANGE are joined: a window
    that saw a change where the tracker stumbled is not a new tempo for the whole stretch.
    """
    if beats_s.size < 2:
        return ()
    edges = [0, *tempo_changes(beats_s), beats_s.size - 1]

    def bpm(a: int, b: int) -> float:  # mean rate: single intervals are frame-quantised
        return 60.0 * (b - a) / float(beats_s[b] - beats_s[a])

    merged = True
    while merged and len(edges) > 2:
        merged = False
        steps = [
            abs(np.log(bpm(edges[k], edges[k + 1]) / bpm(edges[k - 1], edges[k])))
            for k in range(1, len(edges) - 1)
        ]
        k = int(np.argmin(steps))
        if steps[k] < np.log1p(TEMPO_CHANGE):
            del edges[k + 1]
            merged = True
    segments = []
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        start = 0.0 if k == 0 else float(beats_s[a])
        end = duration_s if k == len(edges) - 2 else float(beats_s[b])
        segments.append(TempoSegment(start, end, bpm(a, b)))
    return tuple(segments)
