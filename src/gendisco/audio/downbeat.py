"""Downbeats: how many beats to the bar, and which beat starts it.

Four cues, each a number per beat, each expected to follow a pattern over the bar:

- harmony: chords change on the bar (Goto 2001; Papadopoulos and Peeters 2011), so the
  harmonic content after a downbeat differs most from the content before it. The contrast
  is measured at three time scales (one beat, half a bar, a bar), so a passing melody note
  does not count as much as a new chord held for a bar;
- bass: the bass moves to a new note on the bar (Davies and Plumbley 2006), so the
  spectrum below ~1 kHz changes most from the beat before a downbeat to the downbeat;
- low: kick drum and bass notes fall on the strong beats (1 and 3 of a 4/4 bar, 1 of a
  3/4 bar: the "oom" of oom-pah-pah);
- mid: the snare backbeat (2 and 4) and the off-beat chords of a waltz (2 and 3) fall on
  the weak beats.

A cue's weight is how strongly and consistently it follows its pattern in this song (its
effect size, when significant), so a rock song without chord changes is barred by its
drums, a piano piece by its harmony, and a cue that shows no pattern counts for nothing.
The position of each beat in its bar is then a Viterbi path, so one beat too many or too
few from the tracker shifts the bars once instead of for the rest of the song. The meter
(3 or 4 beats) is the one whose patterns the cues follow best; 3 needs clearly more.
"""

from __future__ import annotations

import numpy as np

from gendisco.audio.onset import BANDS
from gendisco.audio.segment import beat_sync

METERS = (3, 4)
# What each cue does at each position of the bar (downbeat first), up to a scale.
PATTERNS = {
    3: {
        "harmony": (1.0, -0.5, -0.5),
        "bass": (1.0, -0.5, -0.5),
        "low": (1.0, -0.5, -0.5),
        "mid": (-1.0, 0.5, 0.5),
    },
    4: {
        "harmony": (1.0, -1 / 3, -1 / 3, -1 / 3),
        "bass": (1.0, -1 / 3, -1 / 3, -1 / 3),
        "low": (1.0, -1.0, 1.0, -1.0),
        "mid": (-1.0, 1.0, -1.0, 1.0),
    },
}
# Most music has bars of 2 or 4 beats: a triple bar must explain clearly more than a
# quadruple one, and more than chance does (a combined z of 3 over the cues, p ~ 0.01)
TRIPLE_EVIDENCE_RATIO = 1.5
TRIPLE_SIGNIFICANCE = 3.0
# log-likelihood cost of a beat that breaks the bar count (a tracking error, a bar of
# another length): only several bars of clearly better evidence for another phase pay it
BAR_RESET_COST = 8.0
ON_BEAT_FRAMES = 2  # an onset up to ~45 ms from a beat is on it


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


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
    out[inside] = _zscore(change)
    return out


def harmonic_change(chroma_sync: np.ndarray, meter: int) -> np.ndarray:
    """Downbeat evidence per beat for bars of `meter` beats: the sum of the z-scored
    harmonic changes over one beat, half a bar and a bar, scaled to unit spread."""
    widths = sorted({1, (meter + 1) // 2, meter})
    total = sum(_windowed_change(chroma_sync, w) for w in widths)
    return total / (total.std() + 1e-9)


def onset_cues(beat_frames: np.ndarray, bands: np.ndarray) -> dict[str, np.ndarray]:
    """Low (kick, bass: the lowest band) and mid (snare, chords: the two bands above it)
    onset strength at each beat, z-scored over the song."""
    import scipy.ndimage

    peak = scipy.ndimage.maximum_filter1d(bands, size=2 * ON_BEAT_FRAMES + 1, axis=1)
    at = peak[:, np.clip(beat_frames, 0, bands.shape[1] - 1)]
    return {"low": _zscore(at[0]), "mid": _zscore(at[1] + at[2])}


def bass_change(beat_frames: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of each beat's low-register spectrum (the mel bands of the
    two lowest onset bands, below ~1 kHz, on the accent's loudness scale) with the
    previous beat's, z-scored; 0 for the first beat."""
    low = beat_sync(loudness[: BANDS[1][1]], beat_frames)
    low = low / (np.linalg.norm(low, axis=0, keepdims=True) + 1e-9)
    change = np.concatenate([[0.0], 1.0 - np.sum(low[:, 1:] * low[:, :-1], axis=0)])
    return _zscore(change)


def pattern_fit(cue: np.ndarray, pattern: np.ndarray) -> tuple[float, float]:
    """(effect size, z) of a cue following `pattern` over consecutive bars, at the bar
    phase where it fits best. The effect size is the least-squares scale of the pattern
    in the cue (the cue is about scale * pattern[position] + unit noise)."""
    meter = pattern.size
    usable = cue.size - cue.size % meter
    if usable < 2 * meter:
        return 0.0, 0.0
    best = (0.0, 0.0)
    for phase in range(meter):
        weights = np.roll(pattern, phase)[np.arange(usable) % meter]
        products = cue[:usable] * weights
        scale = products.sum() / np.sum(weights**2)
        z = products.mean() / (products.std() / np.sqrt(usable) + 1e-9)
        if z > best[1]:
            best = (float(scale), float(z))
    return best


def bar_emission(cues: dict[str, np.ndarray], meter: int) -> tuple[np.ndarray, float]:
    """Log-likelihood of each position in the bar for each beat, shape (beats, meter), and
    the summed squared significance of the cues' patterns (how much bars of this length
    explain). A cue that follows no pattern has a near-zero scale and counts for little."""
    n = next(iter(cues.values())).size
    emission = np.zeros((n, meter))
    explained = 0.0
    for name, cue in cues.items():
        pattern = np.asarray(PATTERNS[meter][name])
        scale, z = pattern_fit(cue, pattern)
        emission += scale * cue[:, None] * pattern[None, :]
        explained += z**2
    return emission, explained


def bar_positions(emission: np.ndarray) -> np.ndarray:
    """Position in the bar (0 = downbeat) of each beat: Viterbi over positions, where
    a beat advances the position by one and breaking that costs BAR_RESET_COST."""
    n, meter = emission.shape
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


def downbeats(
    beat_frames: np.ndarray, chroma: np.ndarray, loudness: np.ndarray, bands: np.ndarray
) -> tuple[np.ndarray, int]:
    """(indices of the downbeats among the beats, beats per bar), from the chroma, the mel
    loudness (`onset.compressed`) and the band onset strengths (`onset.band_flux`).

    Fewer than two bars of beats: the first beat, bars of 4.
    """
    if beat_frames.size < 8:
        return np.arange(min(beat_frames.size, 1)), 4
    sync = beat_sync(chroma, beat_frames)
    # each beat's chroma at unit length, so loud and quiet beats weigh the same in a window
    sync = sync / (np.linalg.norm(sync, axis=0, keepdims=True) + 1e-10)
    others = {"bass": bass_change(beat_frames, loudness), **onset_cues(beat_frames, bands)}
    fits = {m: bar_emission({"harmony": harmonic_change(sync, m), **others}, m) for m in METERS}
    triple = fits[3][1] > max(TRIPLE_EVIDENCE_RATIO**2 * fits[4][1], TRIPLE_SIGNIFICANCE**2)
    meter = 3 if triple else 4
    positions = bar_positions(fits[meter][0])
    return np.flatnonzero(positions == 0), meter
