"""Beats: a dynamic programme on the local tempo, then the metrical level a listener taps.

`track` is Ellis' dynamic-programming tracker (the one behind `librosa.beat.beat_track`)
with a per-frame, fractional beat period from `tempo.tempo_path`, so beats follow a tempo
change instead of averaging it. `beat_frames` runs the whole step: tracking (on the long
notes when the song swings), `settle_level` to decide which level of the metrical
hierarchy is the beat (the tracked pulse, a multiple or a fraction of it), and
`on_low_hit` to keep beats on the low register rather than on an anticipation.
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


SWING_WEIGHT = 0.5  # see _long_short


def _long_short(local: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Beat scores that tell the long from the short note of swung pairs.

    A beat starts the long note: the hit after it comes two thirds of a beat later, the
    one before it a third of a beat earlier; a short note has them the other way round.
    Adding half the onsets at the first two places and subtracting half at the other two,
    by at most the hit itself, makes a beat worth its hit plus its swung note and a short
    note its hit minus the beat; for straight subdivisions (symmetric about the half) the
    terms cancel.
    """
    import scipy.ndimage

    near = scipy.ndimage.maximum_filter1d(local, size=5, mode="nearest")  # swing ratios vary
    frames = np.arange(local.size)

    def at(offset: np.ndarray) -> np.ndarray:
        return np.interp(frames + offset, frames, near, left=0.0, right=0.0)

    swing = at(2 * period / 3) + at(-period / 3) - at(period / 3) - at(-2 * period / 3)
    # only a hit can gain or lose: a third of a beat after a plain beat, the terms would
    # find the beats and score a silence as a swung downbeat
    strength = np.maximum(local, 0.0)
    return local + np.clip(SWING_WEIGHT * swing, -strength, strength)


def track(accent: np.ndarray, period: np.ndarray, swing: bool = False) -> np.ndarray:
    """Beat frames (int, sorted) following `period` (frames per beat, one per frame);
    with `swing`, beats go on the long note of swung pairs (see _long_short).

    Beats in leading and trailing silence are dropped.
    """
    n = accent.size
    if n == 0 or accent.std() <= 0:
        return np.zeros(0, dtype=int)
    period = np.interp(np.arange(n), np.arange(period.size), period)
    local = _smoothed(accent)
    beat_score = _long_short(local, period) if swing else local
    cumscore = np.zeros(n)
    backlink = np.full(n, -1)
    threshold = 0.01 * local.max()
    first_beat = True
    for t in range(n):
        p = period[t]
        lo, hi = int(round(t - 2 * p)), int(round(t - p / 2))
        if hi < 0:
            cumscore[t] = beat_score[t]
            continue
        prev = np.arange(max(lo, 0), hi + 1)
        cand = cumscore[prev] - TIGHTNESS * np.log((t - prev) / p) ** 2
        best = int(np.argmax(cand))
        cumscore[t] = beat_score[t] + cand[best]
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
    beats = _backtrack(int(good[-1]), backlink)
    # The cumulative score grows with time, so a frame past the last hit, where nothing is
    # played, can still be the last peak; beats are then squeezed towards it. The last beat
    # must be a hit about as strong as the beats just before it.
    recent = local[beats[-END_CONTEXT - 1 : -1]] if beats.size > 1 else local[beats]
    strong = good[local[good] >= END_STRENGTH * np.median(recent)]
    if strong.size and strong[-1] != beats[-1]:
        beats = _backtrack(int(strong[-1]), backlink)
    return _trim(beats, local)


END_STRENGTH = 0.5  # the last beat's accent, relative to the median accent of the beats before
END_CONTEXT = 8  # beats before the last: a quiet ending is compared with itself, not the chorus


def _backtrack(last: int, backlink: np.ndarray) -> np.ndarray:
    beats = [last]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return np.asarray(beats[::-1])


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


# Swing ----------------------------------------------------------------------------------
#
# Swung eighths are long-short (about 2:1, Friberg and Sundstroem 2002) and the beat starts
# the long one. In a shuffle the short note is often the loudest, so a tracker may lock
# onto it; from there the next hit comes after a third of a beat instead of two thirds.

SUBDIVISIONS = 12  # positions per beat interval: halves, thirds and quarters all fall on it
SHORT, STRAIGHT, LONG = slice(3, 6), 6, slice(7, 10)  # a third, a half, two thirds in
SWING_Z = 3.0  # consistency (paired z over the beats) a difference must reach to count
# a swung note is a hit of its own: at least a quarter of the beat's accent (-12 dB), not
# the rising edge of the next beat
SWING_NOTE = 0.25


def subdivision_profile(beats: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Accent at SUBDIVISIONS evenly spaced points of each beat interval, shape
    (beats - 1, SUBDIVISIONS)."""
    beats = beats.astype(float)
    steps = beats[:-1, None] + np.diff(beats)[:, None] * (np.arange(SUBDIVISIONS) / SUBDIVISIONS)
    return peak[np.clip(np.round(steps).astype(int), 0, peak.size - 1)]


def _consistent(difference: np.ndarray) -> bool:
    spread = difference.std() / np.sqrt(difference.size) + 1e-12
    return bool(difference.mean() / spread >= SWING_Z)


def _a_hit(note: np.ndarray, profile: np.ndarray) -> bool:
    return bool(note.mean() >= SWING_NOTE * profile[:, 0].mean())


def on_long_note(beats: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Beat frames moved from the short to the long note of swung pairs.

    Beats whose strongest subdivision consistently comes a third of a beat later, with
    nothing at two thirds and at the half, sit on the short note: each moves to that
    subdivision. Anything else (straight, swung from the beat, triplets) is left alone.
    """
    if beats.size < 8:
        return beats
    profile = subdivision_profile(beats, peak)
    short = profile[:, SHORT].max(axis=1)
    if not (_a_hit(short, profile)
            and _consistent(short - profile[:, LONG].max(axis=1))
            and _consistent(short - profile[:, STRAIGHT])):  # fmt: skip
        return beats
    where = (SHORT.start + int(np.argmax(profile[:, SHORT].mean(axis=0)))) / SUBDIVISIONS
    interval = np.diff(beats.astype(float))
    moved = beats[:-1] + where * interval
    before = moved[0] - interval[0]
    moved = np.concatenate([[before] if before >= 0 else [], moved])
    return np.unique(np.round(moved).astype(int))


def swung(pulses: np.ndarray, peak: np.ndarray) -> bool:
    """Whether each interval of `pulses` is consistently divided long-short: a hit about
    two thirds in, stronger than anything a third in or at the half."""
    if pulses.size < 8:
        return False
    profile = subdivision_profile(pulses, peak)
    long = profile[:, LONG].max(axis=1)
    return (_a_hit(long, profile)
            and _consistent(long - profile[:, SHORT].max(axis=1))
            and _consistent(long - profile[:, STRAIGHT]))  # fmt: skip


def swung_song(beats: np.ndarray, peak: np.ndarray) -> bool:
    """Whether the beat intervals are divided unevenly in thirds, whichever note the beats
    are on: one third position consistently stronger than the other and than the half.
    Straight eighths fill the half, triplets both thirds; only swing fills one third."""
    if beats.size < 8:
        return False
    profile = subdivision_profile(beats, peak)
    thirds = np.abs(profile[:, SHORT].max(axis=1) - profile[:, LONG].max(axis=1))
    return _a_hit(thirds, profile) and _consistent(thirds - profile[:, STRAIGHT])


def even_pulse(pulses: np.ndarray, peak: np.ndarray) -> bool:
    """Whether `pulses` are an even pulse with a hit on every one: their intervals do not
    consistently alternate long and short (a pulse through beats and swung notes), and
    every other pulse is not (nearly) empty (a pulse through swung notes and the silences
    half a beat after them)."""
    interval = np.diff(pulses.astype(float))
    pairs = interval.size // 2
    if pairs < 4:
        return False
    difference = interval[0 : 2 * pairs : 2] - interval[1 : 2 * pairs : 2]
    if _consistent(difference * np.sign(difference.mean())):
        return False
    accents = peak[np.clip(pulses, 0, peak.size - 1)]
    halves = sorted((accents[0::2].mean(), accents[1::2].mean()))
    return bool(halves[0] >= SWING_NOTE * halves[1])


# Low register ---------------------------------------------------------------------------

SIXTEENTH = SUBDIVISIONS // 4  # a quarter of a beat on the subdivision grid
# A band can push a passage (the last bars, a break) while the rest of the song sits on
# the beat. A passage is judged on its own when it spans at least this many beats: three
# bars of 4/4, six pairs of beats for the consistency test (passages of six beats in a
# samba already moved by chance).
LOW_HIT_PASSAGE = 12


def _low_hit_later(profile: np.ndarray) -> bool:
    """Whether the low register (a `subdivision_profile`) consistently hits a sixteenth
    after the beats rather than on them or at the half. Summed over pairs of beats: drum
    patterns alternate strong and weak beats (a samba's surdo, a bass note on every other
    anticipation), so single beats may disagree."""
    after = profile[:, SIXTEENTH]
    pairs = profile.shape[0] // 2

    def paired(x: np.ndarray) -> np.ndarray:
        return x[: 2 * pairs : 2] + x[1 : 2 * pairs : 2]

    return (_a_hit(after, profile)
            and _consistent(paired(after - profile[:, 0]))
            and _consistent(paired(after - profile[:, STRAIGHT])))  # fmt: skip


def on_low_hit(beats: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Beat frames moved a sixteenth later where the low register (kick, bass, surdo)
    consistently hits there rather than on them: the beats sit on anticipations (the
    accented sixteenth before a samba's surdo, a band pushing the last bars while the bass
    stays on the beat), and low sounds carry the beat (Hove et al. 2014; Lenc et al.
    2018). The whole song is judged first; if it does not move, every passage of
    LOW_HIT_PASSAGE beats is judged alone and the beats of those that pass move.
    `low` is `accent_peaks` of the lowest onset band."""
    if beats.size < 8:
        return beats
    profile = subdivision_profile(beats, low)
    move = np.full(beats.size, _low_hit_later(profile))
    if not move.any():
        for first in range(profile.shape[0] - LOW_HIT_PASSAGE + 1):
            if _low_hit_later(profile[first : first + LOW_HIT_PASSAGE]):
                move[first : first + LOW_HIT_PASSAGE + 1] = True  # the intervals' beats
    if not move.any():
        return beats
    interval = np.diff(beats.astype(float))
    step = np.concatenate([interval, interval[-1:]]) * (SIXTEENTH / SUBDIVISIONS)
    moved = beats + np.where(move, step, 0.0)
    return np.unique(np.minimum(np.round(moved).astype(int), low.size - 1))


def beat_frames(accent: np.ndarray, period: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Beat frames at the level listeners tap: tracked along the tempo path, then
    `settle_level`, then moved onto the low hits (`on_low_hit`, `low` the lowest onset
    band). In a swung song beats are tracked on the long notes, a pulse whose eighths are
    swung is the beat (swing is felt against the beat), and an even pulse at twice its
    speed competes with it, as a tracker may lock onto every other swung note."""
    beats = track(accent, period)
    if beats.size < 2:
        return beats
    peak = accent_peaks(accent)
    if not swung_song(beats, peak):
        return on_low_hit(settle_level(beats, accent, period), accent_peaks(low))
    beats = track(accent, period, swing=True)
    if beats.size < 2:
        return beats
    here = beats if swung(beats, peak) else settle_level(beats, accent, period, swing=True)
    faster = track(accent, period / 2, swing=True)
    if even_pulse(faster, peak) and level_score(faster.astype(float), 1.0, peak) > level_score(
        here.astype(float), 1.0, peak
    ):
        here = faster
    return on_low_hit(here, accent_peaks(low))


def settle_level(
    beats: np.ndarray, accent: np.ndarray, period: np.ndarray, swing: bool = False
) -> np.ndarray:
    """Beat frames at the level listeners tap.

    Beats on the short note of swung pairs first move to the long note (`on_long_note`).
    Then the tracked pulse is checked against cross-rhythms (CROSS_RATIOS): when an even
    pulse at such a tempo scores better, the beats are tracked again there. Then the level
    is chosen among the related ones (`choose_level`); a faster level is tracked again at
    its own period, so its beats sit on the hits (swing, pushes) rather than at exact
    fractions, and those beats are kept where they agree with the chosen pulse.
    """
    peak = accent_peaks(accent)
    beats = on_long_note(beats, peak)
    ratio, pulses, score = choose_level(beats, peak)
    for cross in CROSS_RATIOS:
        if level_score(path_pulses(period, cross, peak), cross, peak) > score:
            retracked = track(accent, period / cross, swing)
            candidate = choose_level(retracked, peak)
            if candidate[2] > CROSS_MARGIN * score:
                beats, period = retracked, period / cross
                ratio, pulses, score = candidate
    if ratio == 1.0 and np.array_equal(pulses, beats):
        return beats
    retracked = track(accent, period / ratio, swing)
    if retracked.size:
        distance = np.abs(pulses[:, None] - retracked[None, :]).min(axis=1)
        if np.mean(distance <= AGREE_FRAMES) >= 0.8:
            return retracked
    return np.unique(np.round(pulses).astype(int))
