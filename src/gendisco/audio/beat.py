"""Beats: a dynamic programme on the local tempo, then the metrical level a listener taps.

`track` is Ellis' dynamic-programming tracker (the one behind `librosa.beat.beat_track`)
with a per-frame, fractional beat period from `tempo.tempo_path`, so beats follow a tempo
change instead of averaging it. `choose_level` then decides which level of the metrical
hierarchy is the beat: the tracked pulse, a multiple or a fraction of it.
"""

from __future__ import annotations

import numpy as np

from gendisco.audio.spectrum import FPS

TIGHTNESS = 100.0  # librosa's default: how strongly beats keep the local period


def _smoothed(accent: np.ndarray) -> np.ndarray:
    """Accent divided by its spread and blurred by a narrow Gaussian (as librosa), so a
    hit a frame early or late still counts."""
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    return np.convolve(accent / accent.std(), kernel, "same")


def track(accent: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Beat frames (int, sorted) following `period` (frames per beat, one per frame).

    Beats in leading and trailing silence are dropped.
    """
    n = accent.size
    if n == 0 or accent.std() <= 0:
        return np.zeros(0, dtype=int)
    period = np.interp(np.arange(n), np.arange(period.size), period)
    local = _smoothed(accent)
    cumscore = np.zeros(n)
    backlink = np.full(n, -1)
    threshold = 0.01 * local.max()
    first_beat = True
    for t in range(n):
        p = period[t]
        lo, hi = int(round(t - 2 * p)), int(round(t - p / 2))
        if hi < 0:
            cumscore[t] = local[t]
            continue
        prev = np.arange(max(lo, 0), hi + 1)
        cand = cumscore[prev] - TIGHTNESS * np.log((t - prev) / p) ** 2
        best = int(np.argmax(cand))
        cumscore[t] = local[t] + cand[best]
        # beats must not be carried through the silence before the first onset
        if first_beat and local[t] < threshold:
            backlink[t] = -1
        else:
            backlink[t] = prev[best]
            first_beat = False
    # the last beat: the last well-scoring local peak of the cumulative score (as librosa)
    peaks = np.flatnonzero(
        (cumscore[1:-1] > cumscore[:-2]) & (cumscore[1:-1] >= cumscore[2:])
    ) + 1  # fmt: skip
    if peaks.size == 0:
        return np.zeros(0, dtype=int)
    good = peaks[cumscore[peaks] >= 0.5 * np.median(cumscore[peaks])]
    beats = [int(good[-1])]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return _trim(np.asarray(beats[::-1]), local)


def _trim(beats: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop leading/trailing beats that fall where nothing is played (fade-in, tail)."""
    if beats.size == 0:
        return beats
    strength = np.array([local[max(b - 2, 0) : b + 3].max() for b in beats])
    keep = strength >= 0.1 * np.sqrt(np.mean(strength**2))
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return beats[:0]
    return beats[idx[0] : idx[-1] + 1]


# Metrical level -------------------------------------------------------------------------
#
# What listeners tap: a pulse that (a) lines up with the accents, hitting many strong
# events and few empty places, and (b) lies in the range of comfortable tapping. (a) is
# measured as the accent energy a regular pulse explains (a matched filter: rate times the
# squared mean accent at its positions), so a level with a hit on every pulse beats the
# one above it when the in-between hits are weak, and loses to it when they are nearly as
# strong. (b) is a log-normal preference for tempi (Parncutt 1994, Moelants 2002; the
# same shape as Ellis 2007 and librosa's prior): tapping concentrates around 80-140 BPM.

PREFERRED_BPM = 110.0  # centre of the tapping preference: 0.55 s (Klapuri et al. 2006)
PREFERRED_OCTAVES = 1.0  # its width: librosa's and Ellis' log-normal prior
# Most music is in duple meter: a level three times faster or slower than the tracked one
# needs clearly more evidence (a ratio prior, as in Klapuri et al. 2006).
TRIPLE_RATIO_PRIOR = 0.5
# levels related to the tracked pulse: grouping or dividing it by 2, 3 or 4, as beats
# group into bars and divide into eighths, triplets and sixteenths
LEVEL_RATIOS = (1 / 4, 1 / 3, 1 / 2, 1, 2, 3, 4)
# the limits of a felt beat: slower than 1.5 s listeners subdivide, faster than 4 per
# second they group (London 2004)
SLOWEST_BPM, FASTEST_BPM = 40.0, 240.0
ACCENT_CAP_PERCENTILE = 99  # see accent_peaks
ON_BEAT_FRAMES = 2  # an accent up to two frames (~45 ms) from a pulse still counts as on it


def tempo_preference(bpm: float) -> float:
    """Relative likelihood (0..1) that listeners tap at `bpm`."""
    return float(np.exp(-0.5 * (np.log2(bpm / PREFERRED_BPM) / PREFERRED_OCTAVES) ** 2))


def pulse_evidence(times: np.ndarray, peak_accent: np.ndarray) -> float:
    """Accent energy a pulse at `times` (frames, fractional) explains, per second:
    rate times the squared mean accent at its positions."""
    if times.size < 2:
        return 0.0
    idx = np.clip(np.round(times).astype(int), 0, peak_accent.size - 1)
    seconds = (times[-1] - times[0]) / FPS
    return float(peak_accent[idx].mean() ** 2 * (times.size - 1) / max(seconds, 1e-9))


def _subdivide(beats: np.ndarray, k: int) -> np.ndarray:
    """k evenly spaced pulses per beat interval, the beats included."""
    steps = beats[:-1, None] + np.diff(beats)[:, None] * (np.arange(k) / k)
    return np.concatenate([steps.ravel(), beats[-1:]])


def level_candidates(beats: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(ratio to the tracked tempo, pulse frames) for each related metrical level: every
    phase of the slower levels, the faster levels, and the off-beats of the tracked one."""
    beats = beats.astype(float)
    out: list[tuple[float, np.ndarray]] = []
    for ratio in LEVEL_RATIOS:
        if ratio < 1:
            step = round(1 / ratio)
            out += [(ratio, beats[phase::step]) for phase in range(step)]
        elif ratio == 1:
            out += [(1.0, beats), (1.0, beats[:-1] + np.diff(beats) / 2)]
        else:
            out.append((float(ratio), _subdivide(beats, int(ratio))))
    return out


def accent_peaks(accent: np.ndarray) -> np.ndarray:
    """What a pulse position collects: the high-passed accent (minus its 1-s moving
    average, so a steady wash of sound such as strumming or a pad counts for no level),
    its maximum within ON_BEAT_FRAMES, capped at the ACCENT_CAP_PERCENTILE."""
    import scipy.ndimage

    trend = scipy.ndimage.uniform_filter1d(accent, size=int(FPS), mode="nearest")
    novelty = np.maximum(accent - trend, 0.0)
    peak = scipy.ndimage.maximum_filter1d(novelty, size=2 * ON_BEAT_FRAMES + 1, mode="nearest")
    # a few outsized onsets (the first hit after digital silence, a crash) must not
    # decide the level: accents are counted up to what the strongest 1 % of frames reach
    return np.minimum(peak, np.percentile(peak, ACCENT_CAP_PERCENTILE))


def level_score(pulses: np.ndarray, ratio: float, peak: np.ndarray) -> float:
    """tempo_preference x pulse_evidence of a pulse (frames), x TRIPLE_RATIO_PRIOR when it
    is three times faster or slower than the tracked one; 0 outside the tapping range."""
    if pulses.size < 4:
        return 0.0
    bpm = 60.0 * FPS / float(np.median(np.diff(pulses)))
    if not SLOWEST_BPM <= bpm <= FASTEST_BPM:
        return 0.0
    score = tempo_preference(bpm) * pulse_evidence(pulses, peak)
    if round(max(ratio, 1 / ratio)) == 3:
        score *= TRIPLE_RATIO_PRIOR
    return score


def choose_level(beats: np.ndarray, peak: np.ndarray) -> tuple[float, np.ndarray, float]:
    """The metrical level listeners tap, among levels related to the tracked `beats`.

    Returns (ratio of its tempo to the tracked one, its pulse frames as floats, its
    level_score); `peak` comes from `accent_peaks`.
    """
    best = (1.0, beats.astype(float), level_score(beats.astype(float), 1.0, peak))
    if beats.size < 8:
        return best
    for ratio, pulses in level_candidates(beats):
        score = level_score(pulses, ratio, peak)
        if score > best[2]:
            best = (ratio, pulses, score)
    return best


# A tracker can lock onto a cross-rhythm (three dotted eighths in a samba's 3-3-2, two
# triplet-quarters against a bar): a pulse 3:4, 2:3, 4:3 or 3:2 of the tracked tempo.
CROSS_RATIOS = (2 / 3, 3 / 4, 4 / 3, 3 / 2)
# Latin patterns (clave, tamborim) put strong hits on cross-rhythms by design: leaving the
# tracked family needs clearly more evidence than staying
CROSS_MARGIN = 1.2
PHASES = 12  # phase offsets tried for a pulse along the tempo path (1/12 beat apart)


def path_pulses(period: np.ndarray, ratio: float, peak: np.ndarray) -> np.ndarray:
    """Frames of an even pulse at `ratio` x the tempo path, at the phase that collects the
    most accent: each frame advances the pulse by ratio / period beats."""
    phase = np.cumsum(ratio / period)
    best, best_sum = np.zeros(0), -1.0
    for offset in np.arange(PHASES) / PHASES:
        count = np.floor(phase + offset)
        pulses = np.flatnonzero(np.diff(count) > 0) + 1.0
        total = float(peak[pulses.astype(int)].mean()) if pulses.size else 0.0
        if total > best_sum:
            best, best_sum = pulses, total
    return best


AGREE_FRAMES = 3  # a re-tracked beat within ~70 ms of the chosen pulse is the same beat


def settle_level(beats: np.ndarray, accent: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Beat frames at the level listeners tap.

    First the tracked pulse is checked against cross-rhythms (CROSS_RATIOS): when an even
    pulse at such a tempo scores better, the beats are tracked again there. Then the level
    is chosen among the related ones (`choose_level`); a faster level is tracked again at
    its own period, so its beats sit on the hits (swing, pushes) rather than at exact
    fractions, and those beats are kept where they agree with the chosen pulse.
    """
    peak = accent_peaks(accent)
    ratio, pulses, score = choose_level(beats, peak)
    for cross in CROSS_RATIOS:
        if level_score(path_pulses(period, cross, peak), cross, peak) > score:
            retracked = track(accent, period / cross)
            candidate = choose_level(retracked, peak)
            if candidate[2] > CROSS_MARGIN * score:
                beats, period = retracked, period / cross
                ratio, pulses, score = candidate
    if ratio == 1.0 and np.array_equal(pulses, beats):
        return beats
    retracked = track(accent, period / ratio)
    if retracked.size:
        distance = np.abs(pulses[:, None] - retracked[None, :]).min(axis=1)
        if np.mean(distance <= AGREE_FRAMES) >= 0.8:
            return retracked
    return np.unique(np.round(pulses).astype(int))
