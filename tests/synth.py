"""Synthesised test songs with known beats: click tracks and small drum-and-band arrangements.

Everything is plain numpy and deterministic for a given seed, so tests and benchmarks can
assert beat accuracy against the exact times the events were placed at. `write_audio`
encodes a song into any container the product reads (wav, flac, mp3, m4a, ogg, opus).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 22050


@dataclass(frozen=True)
class Song:
    """A synthesised song: samples (mono (n,) or stereo (2, n)) and its ground truth."""

    y: np.ndarray
    sr: int
    beats_s: np.ndarray
    downbeats_s: np.ndarray
    sections_s: np.ndarray  # where the arrangement changes, starting with 0.0

    @property
    def duration_s(self) -> float:
        return self.y.shape[-1] / self.sr


# 1. Beat grids --------------------------------------------------------------------------


def beat_grid(
    bpm: float | tuple[float, float],
    duration_s: float,
    *,
    start_s: float = 0.0,
    change_at_s: float | None = None,
    drift: float = 0.0,
    drift_period_s: float = 16.0,
    seed: int = 0,
) -> np.ndarray:
    """Beat times (s) from `start_s` to `duration_s`.

    `bpm` is one tempo, or (before, after) with the switch at `change_at_s`. `drift` is the
    relative depth of a slow sinusoidal tempo modulation (rubato), e.g. 0.04 = +-4 %.
    """
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi)
    before, after = (bpm, bpm) if np.isscalar(bpm) else bpm
    beats = []
    t = start_s
    while t < duration_s - 1e-9:
        beats.append(t)
        tempo = before if change_at_s is None or t < change_at_s else after
        tempo *= 1.0 + drift * np.sin(2 * np.pi * t / drift_period_s + phase)
        t += 60.0 / tempo
    return np.asarray(beats, dtype=np.float64)


# 2. Instruments -------------------------------------------------------------------------


def _env(n: int, sr: int, decay_s: float, attack_s: float = 0.001) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.exp(-t / decay_s)
    attack = max(1, int(attack_s * sr))
    env[:attack] *= np.linspace(0, 1, attack)
    return env


def _kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    freq = 48 + 110 * np.exp(-t / 0.03)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * _env(n, sr, 0.12)


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # tilt towards highs like a snare wire
    tone = np.sin(2 * np.pi * 185 * t)
    return (0.45 * noise * _env(n, sr, 0.07) + 0.6 * tone * _env(n, sr, 0.05)) * 0.9


def _hat(sr: int, rng: np.random.Generator, open_: bool = False) -> np.ndarray:
    n = int((0.25 if open_ else 0.06) * sr)
    noise = np.diff(rng.standard_normal(n + 1))
    return 0.06 * noise * _env(n, sr, 0.09 if open_ else 0.015)


def _click(sr: int, accent: bool) -> np.ndarray:
    n = int(0.03 * sr)
    t = np.arange(n) / sr
    return np.sin(2 * np.pi * (1500 if accent else 1000) * t) * _env(n, sr, 0.006)


def _tone(freq: float, dur_s: float, sr: int, *, decay_s: float, harmonics: int = 4) -> np.ndarray:
    n = int(dur_s * sr)
    t = np.arange(n) / sr
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    return wave * _env(n, sr, decay_s, attack_s=0.005)


def _pad(freqs: list[float], dur_s: float, sr: int) -> np.ndarray:
    n = int(dur_s * sr)
    t = np.arange(n) / sr
    wave = sum(np.sin(2 * np.pi * f * t + 0.3 * np.sin(2 * np.pi * 0.5 * t)) for f in freqs)
    fade = np.minimum(1.0, np.minimum(t / 0.25, (dur_s - t) / 0.25))  # slow attack, no clicks
    return wave * np.clip(fade, 0, 1) / len(freqs)


def _room(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A short reverb tail and a faint noise floor, as in any real recording: without them
    the high bands are digitally silent between hits, which no microphone produces."""
    import scipy.signal

    n = int(0.6 * sr)
    tail = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.12 * sr))
    wet = scipy.signal.fftconvolve(y, tail)[: y.size]
    wet *= 0.25 * np.abs(y).max() / (np.abs(wet).max() + 1e-9)
    return y + wet + 3e-4 * np.abs(y).max() * rng.standard_normal(y.size)


def _add(out: np.ndarray, sound: np.ndarray, at_s: float, sr: int, gain: float) -> None:
    i = int(round(at_s * sr))
    if i >= out.size or i < 0:
        return
    n = min(sound.size, out.size - i)
    out[i : i + n] += gain * sound[:n]


# Chord progressions as (bass root Hz, pad chord Hz): I-vi-IV-V in C, and i-VI-III-VII in A minor
PROGRESSIONS = [
    [(65.41, [261.6, 329.6, 392.0]), (55.0, [220.0, 261.6, 329.6]),
     (87.31, [349.2, 440.0, 523.3]), (98.0, [392.0, 493.9, 587.3])],
    [(55.0, [220.0, 261.6, 329.6]), (87.31, [349.2, 440.0, 523.3]),
     (65.41, [261.6, 329.6, 392.0]), (98.0, [392.0, 493.9, 587.3])],
]  # fmt: skip


# 3. Songs -------------------------------------------------------------------------------


def click_track(
    bpm: float | tuple[float, float],
    duration_s: float,
    *,
    sr: int = SR,
    meter: int = 4,
    change_at_s: float | None = None,
) -> Song:
    """Metronome clicks, the first beat of each bar higher and louder."""
    beats = beat_grid(bpm, duration_s, change_at_s=change_at_s)
    y = np.zeros(int(duration_s * sr))
    for i, b in enumerate(beats):
        _add(y, _click(sr, i % meter == 0), b, sr, 0.8 if i % meter == 0 else 0.5)
    return Song(y.astype(np.float32), sr, beats, beats[::meter], np.array([0.0]))


def pulse_song(
    pulse_bpm: float,
    duration_s: float,
    pattern: list[str],
    *,
    sr: int = SR,
    seed: int = 0,
) -> Song:
    """An even pulse whose hits cycle through `pattern`, e.g. ["kick", "hat"] or
    ["kick", "snare"]; a hit may layer drums ("kick+hat"). Nothing else sounds, so only the
    accent pattern says which level of the pulse is the beat. `beats_s` holds every pulse;
    `downbeats_s` every first hit of the pattern.
    """
    rng = np.random.default_rng(seed)
    kit = {"kick": _kick(sr, rng), "snare": _snare(sr, rng), "hat": _hat(sr, rng)}
    gains = {"kick": 1.0, "snare": 0.8, "hat": 3.0}  # a hat as loud as a hit can be
    y = np.zeros(int(duration_s * sr))
    pulses = np.arange(0.25, duration_s, 60.0 / pulse_bpm)
    for i, t in enumerate(pulses):
        for name in pattern[i % len(pattern)].split("+"):
            _add(y, kit[name], t, sr, gains[name])
    y = _room(y, sr, rng)
    y *= 0.8 / (np.abs(y).max() + 1e-9)
    return Song(y.astype(np.float32), sr, pulses, pulses[:: len(pattern)], np.array([0.0]))


def drum_song(
    bpm: float | tuple[float, float],
    duration_s: float,
    *,
    sr: int = SR,
    style: str = "rock",
    meter: int | None = None,
    swing: float = 0.0,
    change_at_s: float | None = None,
    drift: float = 0.0,
    intro_s: float = 0.0,
    intro_gain: float = 0.1,
    section_bars: int = 8,
    humanize_s: float = 0.0,
    push_from_s: float | None = None,
    stereo: bool = False,
    seed: int = 0,
) -> Song:
    """A small band: drums, bass on the chord roots, pads changing every bar.

    `style`: "rock" (kick 1 and 3, snare 2 and 4, eighth hats), "four" (kick every beat,
    offbeat open hats), "waltz" (3/4: bass on 1, chords on 2 and 3), "samba" (surdo on 2,
    syncopated sixteenth shaker and tamborim), "funk" (syncopated kicks, sixteenth hats),
    "shuffle" (a soft kit; bass and chord stabs on the swung eighths, louder than the beat:
    use with `swing`).
    `swing` delays every second eighth note (0.33 = triplet swing). `intro_s` seconds of
    pads and soft hats at `intro_gain` precede the full band (beats continue through it).
    Every `section_bars` bars the arrangement changes (drums drop out or the chords move),
    which gives the ground truth for section boundaries. From `push_from_s` on, the hats,
    the chords and the snare of "rock" and "four" (not samba's percussion) anticipate every
    beat by a sixteenth (a band pushing the last bars) while kick and bass stay on it.
    """
    rng = np.random.default_rng(seed)
    meter = meter or (3 if style == "waltz" else 4)
    beats = beat_grid(bpm, duration_s, change_at_s=change_at_s, drift=drift, seed=seed)
    n = int(duration_s * sr)
    drums = np.zeros(n)
    band = np.zeros(n)
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    hats = [_hat(sr, rng) for _ in range(4)]
    open_hat = _hat(sr, rng, open_=True)
    periods = np.diff(beats, append=beats[-1] + (beats[-1] - beats[-2]))
    sections = [0.0]
    progression = PROGRESSIONS[seed % len(PROGRESSIONS)]

    def jitter() -> float:
        return float(rng.normal(0, humanize_s)) if humanize_s else 0.0

    for i, (b, p) in enumerate(zip(beats, periods, strict=True)):
        bar, pos = divmod(i, meter)
        section = bar // section_bars
        if pos == 0 and bar % section_bars == 0 and bar > 0:
            sections.append(b)
        full = b >= intro_s
        g = 1.0 if full else intro_gain
        # a breakdown every third section: no kick, half the hats, so sections differ
        breakdown = section % 3 == 2
        root, chord = progression[(bar + (section % 2) * 2) % len(progression)]
        eighth = b + p * (0.5 + swing * 0.5)
        early = p / 4 if push_from_s is not None and b >= push_from_s else 0.0
        if full and not breakdown:
            if style == "rock":
                if pos in (0, 2):
                    _add(drums, kick, b + jitter(), sr, 1.0)
                if pos in (1, 3):
                    _add(drums, snare, b - early + jitter(), sr, 0.8)
                if pos == 3 and bar % 2 == 1:
                    _add(drums, kick, eighth + jitter(), sr, 0.6)
            elif style == "four":
                _add(drums, kick, b + jitter(), sr, 1.0)
                _add(drums, open_hat, eighth - early + jitter(), sr, 1.0)
                if pos in (1, 3):
                    _add(drums, snare, b - early + jitter(), sr, 0.5)
            elif style == "waltz":
                if pos == 0:
                    _add(drums, kick, b + jitter(), sr, 0.9)
                else:
                    _add(drums, snare, b + jitter(), sr, 0.35)
            elif style == "samba":
                # surdo: muffled on 1, strong on 2; tamborim syncopation
                _add(drums, kick, b + jitter(), sr, 0.5 if pos % 2 == 0 else 1.0)
                for k, acc in ((0.0, 0.9), (0.25, 0.35), (0.5, 0.45), (0.75, 0.6)):
                    _add(drums, hats[k == 0.0], b + k * p + jitter(), sr, acc * 2.0)
                if pos % 2 == 1:
                    _add(drums, snare, b + 0.5 * p + jitter(), sr, 0.3)
            elif style == "funk":
                if pos == 0 or (pos == 2 and bar % 2 == 0):
                    _add(drums, kick, b + jitter(), sr, 1.0)
                if pos == 1:
                    _add(drums, kick, b + 0.75 * p + jitter(), sr, 0.7)
                if pos in (1, 3):
                    _add(drums, snare, b + jitter(), sr, 0.85)
                for k in (0.25, 0.75):
                    _add(drums, hats[2], b + k * p + jitter(), sr, 0.6)
            elif style == "shuffle":
                # soft kit: kick on 1 and 3, brushed snare on 2 and 4
                _add(drums, kick if pos % 2 == 0 else snare, b + jitter(), sr, 0.3)
            else:
                raise ValueError(f"unknown style {style!r}")
        if style != "samba" or not full:
            hat_gain = g * (1.0 if not breakdown else 0.6)
            _add(drums, hats[pos % 4], b - early + jitter(), sr, hat_gain)
            if not breakdown or pos % 2 == 0:
                _add(drums, hats[(pos + 1) % 4], eighth - early + jitter(), sr, g * 0.6)
        # bass: the root on the bar's first beat, octave jumps on others (not in the intro)
        if full and style == "shuffle":
            # a boogie: bass and a chord stab on every swung note, louder than the note on
            # the beat, as a shuffle's band plays it; only the hats mark the beat itself
            _add(band, _tone(root, p * 0.5, sr, decay_s=p * 0.4), b, sr, 0.15)
            _add(band, _tone(root * 2, p * 0.3, sr, decay_s=p * 0.2), eighth, sr, 0.5)
            for f in chord:
                _add(band, _tone(f, p * 0.25, sr, decay_s=p * 0.15, harmonics=3), eighth, sr, 0.2)
        elif full:
            if pos == 0:
                _add(band, _tone(root, p * 0.9, sr, decay_s=p), b, sr, 0.45)
            elif style == "waltz":
                for f in chord:
                    _add(band, _tone(f, p * 0.8, sr, decay_s=p * 0.5, harmonics=2), b, sr, 0.08)
            elif pos == 2 or style == "funk":
                _add(band, _tone(root * 2, p * 0.45, sr, decay_s=p * 0.3), eighth, sr, 0.25)
        if pos == 0:
            _add(band, _pad(chord, p * meter, sr), b - early, sr, 0.22 * (1.0 if full else 2.5 * g))
    y = _room(drums + band, sr, rng)
    y /= np.abs(y).max() + 1e-9
    y *= 0.8
    if stereo:
        delay = int(0.011 * sr)  # a little width: the band is delayed on the right
        right = _room(drums + np.concatenate([np.zeros(delay), band[:-delay]]), sr, rng)
        right *= 0.8 / (np.abs(right).max() + 1e-9)
        y = np.stack([y, right])
    return Song(
        y.astype(np.float32), sr, beats, beats[::meter], np.asarray(sections, dtype=np.float64)
    )


# 4. Files -------------------------------------------------------------------------------

_CODECS = {
    ".wav": ("wav", "pcm_s16le", "s16"),
    ".flac": ("flac", "flac", "s16"),
    ".mp3": ("mp3", "libmp3lame", "fltp"),
    ".m4a": ("mp4", "aac", "fltp"),
    ".ogg": ("ogg", "libvorbis", "fltp"),
    ".opus": ("ogg", "libopus", "fltp"),
}


def write_audio(path: Path, y: np.ndarray, sr: int, *, out_sr: int | None = None) -> Path:
    """Encode samples (mono (n,) or stereo (2, n), float in [-1, 1]) with PyAV by suffix.

    Opus only takes 48 kHz and vorbis may be missing from a build; both fall back sensibly:
    the song is resampled to 48 kHz for opus, and .ogg uses opus when vorbis is absent.
    """
    import av

    path = Path(path)
    fmt, codec, sample_fmt = _CODECS[path.suffix.lower()]
    if codec == "libvorbis" and "libvorbis" not in av.codecs_available:
        codec = "libopus"
    planar = np.atleast_2d(np.asarray(y, dtype=np.float32))
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    rate = out_sr or (48000 if codec == "libopus" else sr)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=sample_fmt, layout=layout, rate=rate)
        block = 4096
        for start in range(0, planar.shape[1], block):
            chunk = np.ascontiguousarray(planar[:, start : start + block])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sr
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    container.mux(packet)
        for out in resampler.resample(None):
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


# 5. Dance and folk styles ---------------------------------------------------------------
#
# Songs in the styles of the public beat-annotated collections (ballroom, country, Greek
# folk, samba, unaccompanied guitar/piano), at the metrical level those collections annotate.
# Each style is a bar pattern: (instrument, position in beats within the bar, gain).
# Uneven meters (7/8, 9/8) give pulse groups; their annotated beats are the group starts,
# and event positions are counted in pulses instead of beats.


def _tone_at(
    freq: float,
    dur_s: float,
    sr: int,
    *,
    decay_s: float,
    attack_s: float,
    harmonics: int,
    tilt: float = 1.0,
) -> np.ndarray:
    n = max(1, int(dur_s * sr))
    t = np.arange(n) / sr
    wave = sum(
        np.sin(2 * np.pi * freq * k * t) / k**tilt * np.exp(-t * k / (4 * decay_s))
        for k in range(1, harmonics + 1)
    )
    return wave * _env(n, sr, decay_s, attack_s=attack_s)  # fmt: skip


def _noise_hit(
    sr: int,
    rng: np.random.Generator,
    dur_s: float,
    decay_s: float,
    lo_hz: float,
    hi_hz: float,
    attack_s: float = 0.001,
) -> np.ndarray:
    import scipy.signal

    n = int(dur_s * sr)
    sos = scipy.signal.butter(2, [lo_hz, min(hi_hz, 0.45 * sr)], "bandpass", fs=sr,
                              output="sos")  # fmt: skip
    return scipy.signal.sosfilt(sos, rng.standard_normal(n)) * _env(n, sr, decay_s, attack_s)


def _percussion(sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    surdo_f = 55 + 30 * np.exp(-t / 0.05)
    conga_f = 210 + 40 * np.exp(-t / 0.02)
    return {
        "kick": _kick(sr, rng),
        "snare": _snare(sr, rng),
        "brush": 0.5 * _noise_hit(sr, rng, 0.2, 0.06, 2000, 9000, attack_s=0.008),
        "hat": 1.5 * _hat(sr, rng),
        "ohat": 1.5 * _hat(sr, rng, open_=True),
        "ride": 0.4 * _noise_hit(sr, rng, 0.4, 0.15, 4000, 10000),
        "clap": 0.7 * _noise_hit(sr, rng, 0.15, 0.04, 900, 5000),
        "rim": 0.5 * _tone_at(1800, 0.05, sr, decay_s=0.008, attack_s=0.0005, harmonics=2),
        "clave": 0.6 * _tone_at(2500, 0.06, sr, decay_s=0.012, attack_s=0.0005, harmonics=1),
        "cowbell": 0.3 * (_tone_at(562, 0.2, sr, decay_s=0.05, attack_s=0.001, harmonics=3)
                          + _tone_at(845, 0.2, sr, decay_s=0.05, attack_s=0.001, harmonics=3)),
        "shaker": 0.5 * _noise_hit(sr, rng, 0.08, 0.025, 3000, 10000, attack_s=0.012),
        "tamborim": 0.5 * (_tone_at(780, 0.08, sr, decay_s=0.02, attack_s=0.0005, harmonics=2)
                           + _noise_hit(sr, rng, 0.08, 0.015, 2000, 8000)),
        "surdo": np.sin(2 * np.pi * np.cumsum(surdo_f) / sr) * _env(n, sr, 0.18),
        "conga": 0.6 * np.sin(2 * np.pi * np.cumsum(conga_f) / sr) * _env(n, sr, 0.08),
        "slap": 0.5 * _noise_hit(sr, rng, 0.1, 0.02, 600, 4000),
        "doum": 0.9 * np.sin(2 * np.pi * np.cumsum(surdo_f * 1.4) / sr) * _env(n, sr, 0.12),
        "tek": 0.5 * _noise_hit(sr, rng, 0.06, 0.012, 1500, 7000),
    }  # fmt: skip


# pitched voices: (attack s, decay s, duration in beats, harmonics, spectral tilt)
_VOICES = {
    "bass": (0.004, 0.35, 0.9, 4, 1.2),
    "pluck": (0.002, 0.25, 1.0, 8, 1.0),  # guitar, bouzouki, cavaquinho
    "piano": (0.003, 0.6, 1.0, 6, 1.3),
    "accordion": (0.015, 0.4, 0.45, 8, 0.8),  # tango staccato, bandoneon
    "brass": (0.02, 0.3, 0.5, 8, 0.7),
    "strings": (0.12, 1.5, 1.0, 6, 1.0),  # bowed, slow attack
}

# (meter or pulse groups, tempo range BPM, events, swing, {voice: gain} accents)
# events: (instrument, positions, gain); instrument "bass"/"bass5" plays the root/fifth,
# the other voices play the bar's chord.
STYLES: dict[str, dict] = {
    "slow waltz": dict(
        meter=3,
        bpm=(84, 90),
        events=[
            ("bass", [0], 0.5),
            ("strings", [0], 0.25),
            ("piano", [1, 2], 0.18),
            ("brush", [0, 1, 2], 0.5),
        ],
    ),
    "viennese waltz": dict(
        meter=3,
        bpm=(168, 180),
        events=[
            ("bass", [0], 0.5),
            ("piano", [1, 2], 0.25),
            ("strings", [0], 0.2),
            ("ride", [0], 0.5),
        ],
    ),
    "tango": dict(
        meter=4,
        bpm=(124, 132),
        events=[
            ("accordion", [0, 1, 2, 3], 0.3),
            ("accordion", [0, 2], 0.2),
            ("bass", [0, 2, 3.5], 0.45),
            ("snare", [3.5], 0.3),
            ("kick", [0, 2], 0.4),
        ],
    ),
    "jive": dict(
        meter=4,
        bpm=(160, 176),
        swing=0.33,
        events=[
            ("kick", [0, 2], 0.7),
            ("snare", [1, 3], 0.7),
            ("ride", [0, 1, 1.5, 2, 3, 3.5], 1.0),
            ("bass", [0, 1, 2, 3], 0.4),
            ("piano", [1.5, 3.5], 0.2),
        ],
    ),
    "quickstep": dict(
        meter=4,
        bpm=(196, 208),
        events=[
            ("kick", [0, 2], 0.5),
            ("snare", [1, 3], 0.6),
            ("hat", [0, 1, 2, 3], 0.8),
            ("bass", [0, 1, 2, 3], 0.4),
            ("brass", [0, 2.5], 0.25),
        ],
    ),
    "samba": dict(
        meter=4,
        bpm=(96, 104),
        events=[
            ("surdo", [0, 2], 0.5),
            ("surdo", [1, 3], 1.0),
            ("shaker", [k / 4 for k in range(16)], 0.8),
            ("shaker", [0.75, 1.75, 2.75, 3.75], 0.8),
            ("tamborim", [0, 0.5, 0.75, 1.25, 1.75, 2, 2.5, 2.75, 3.25, 3.75], 0.8),
            ("pluck", [0.25, 0.75, 1.5, 2.25, 2.75, 3.5], 0.12),
            ("bass", [0, 1.75, 2, 3.75], 0.35),
        ],
    ),
    "cha-cha": dict(
        meter=4,
        bpm=(116, 128),
        events=[
            ("cowbell", [0, 1, 2, 3], 0.6),
            ("conga", [3, 3.5, 0], 0.9),
            ("slap", [1], 0.8),
            ("kick", [0], 0.5),
            ("bass", [0, 1.5, 3], 0.4),
            ("piano", [0.5, 1.5, 2.5, 3], 0.18),
            ("shaker", [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], 0.5),
        ],
    ),
    "rumba": dict(
        meter=4,
        bpm=(96, 108),
        events=[
            ("clave", [0, 1.5, 3], 0.8),
            ("conga", [3, 3.5], 0.8),
            ("slap", [1], 0.6),
            ("bass", [1.5, 3], 0.45),
            ("strings", [0], 0.2),
            ("shaker", [0, 1, 2, 3], 0.4),
            ("piano", [0, 1.5, 2.5], 0.12),
        ],
    ),
    "country two-step": dict(
        meter=4,
        bpm=(100, 132),
        events=[
            ("bass", [0], 0.5),
            ("bass5", [2], 0.45),
            ("pluck", [1, 3], 0.3),
            ("snare", [1, 3], 0.5),
            ("brush", [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], 0.6),
            ("kick", [0, 2], 0.5),
        ],
    ),
    "pop rock": dict(
        meter=4,
        bpm=(126, 156),
        events=[
            ("kick", [0, 2, 2.5], 1.0),
            ("snare", [1, 3], 0.8),
            ("hat", [k / 2 for k in range(8)], 0.7),
            ("bass", [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5], 0.3),
            ("strings", [0], 0.15),
        ],
    ),
    "disco": dict(
        meter=4,
        bpm=(116, 128),
        events=[
            ("kick", [0, 1, 2, 3], 1.0),
            ("ohat", [0.5, 1.5, 2.5, 3.5], 1.2),
            ("clap", [1, 3], 0.7),
            ("bass", [0.5, 1.5, 2.5, 3.5], 0.35),
            ("strings", [0], 0.2),
        ],
    ),
    "greek 7/8": dict(
        meter=(3, 2, 2),
        bpm=(140, 170),
        events=[
            ("doum", [0], 0.9),
            ("tek", [3, 5], 0.8),
            ("tek", [1, 2, 4, 6], 0.25),
            ("bass", [0, 3, 5], 0.4),
            ("pluck", [0, 1, 2, 3, 4, 5, 6], 0.15),
        ],
    ),
    "greek 9/8": dict(
        meter=(2, 2, 2, 3),
        bpm=(150, 180),
        events=[
            ("doum", [0, 6], 0.9),
            ("tek", [2, 4, 8], 0.7),
            ("tek", [1, 3, 5, 7], 0.2),
            ("bass", [0, 2, 4, 6], 0.4),
            ("pluck", list(range(9)), 0.15),
        ],
    ),
    "folk guitar": dict(
        meter=4,
        bpm=(80, 110),
        events=[
            ("bass", [0, 2], 0.35),
            ("bass5", [1, 3], 0.3),
            ("pluck", [0.5, 1, 1.5, 2.5, 3, 3.5], 0.15),
        ],
    ),
    "piano ballad": dict(
        meter=4,
        bpm=(62, 80),
        drift=0.05,
        events=[("bass", [0, 2], 0.35), ("piano", [0, 1, 2, 3], 0.2), ("piano", [1.5, 3.5], 0.08)],
    ),
}


def style_song(
    style: str,
    duration_s: float,
    *,
    bpm: float | None = None,
    sr: int = SR,
    seed: int = 0,
    drift: float | None = None,
    humanize_s: float = 0.012,
    intro_bars: int = 0,
) -> Song:
    """A song in one of `STYLES`, with the beats a human would annotate as ground truth.

    The tempo (drawn from the style's range when `bpm` is None), loudness of every hit
    (+-25 %), timing of every hit (`humanize_s`), a slow rubato (`drift`, default 2 %) and
    the room vary by seed. `intro_bars` bars at the start carry only the pitched voices,
    quietly (the annotated beats go on through them).
    """
    import scipy.signal

    spec = STYLES[style]
    rng = np.random.default_rng(seed)
    lo, hi = spec["bpm"]
    bpm = float(bpm if bpm is not None else rng.uniform(lo, hi))
    groups = spec["meter"] if isinstance(spec["meter"], tuple) else (1,) * spec["meter"]
    pulses = sum(groups)
    meter = len(groups)
    drift = spec.get("drift", 0.02) if drift is None else drift
    swing = spec.get("swing", 0.0)
    # beat durations follow the pulse groups; bpm is the mean beat rate
    pulse_s = 60.0 / bpm * meter / pulses
    phase = rng.uniform(0, 2 * np.pi)
    beats, pulse_times = [], []
    t = rng.uniform(0.0, 0.5)
    while t < duration_s + 4:
        scale = 1.0 + drift * np.sin(2 * np.pi * t / 17.0 + phase)
        for g in groups:
            beats.append(t)
            for k in range(g):
                pulse_times.append(t + k * pulse_s * scale)
            t += g * pulse_s * scale
    beats_arr = np.asarray(beats)
    pulse_arr = np.asarray(pulse_times + [t])
    n = int(duration_s * sr)
    out = np.zeros(n)
    kit = _percussion(sr, rng)
    progression = PROGRESSIONS[seed % len(PROGRESSIONS)]
    n_bars = beats_arr.size // meter
    tones: dict[tuple, np.ndarray] = {}  # the same note at the same length sounds the same
    for bar in range(n_bars):
        root, chord = progression[bar % len(progression)]
        intro = bar < intro_bars
        first_pulse = bar * pulses
        for name, positions, gain in spec["events"]:
            pitched = name in _VOICES or name == "bass5"
            if intro and (not pitched or name.startswith("bass")):
                continue
            for pos in positions:
                if meter == pulses:  # even meter: positions in beats, swing the off-beats
                    whole, frac = divmod(pos, 1.0)
                    if abs(frac - 0.5) < 1e-9:
                        frac += swing * 0.5
                    i = first_pulse + int(whole)
                    at = pulse_arr[i] + frac * (pulse_arr[i + 1] - pulse_arr[i])
                    beat_s = pulse_arr[i + 1] - pulse_arr[i]
                else:
                    at = pulse_arr[first_pulse + int(pos)]
                    beat_s = pulse_s * 2
                at += rng.normal(0, humanize_s)
                g = gain * rng.uniform(0.75, 1.25) * (0.3 if intro else 1.0)
                if name in kit:
                    _add(out, kit[name], at, sr, g)
                    continue
                voice = "bass" if name.startswith("bass") else name
                attack, decay, length, harmonics, tilt = _VOICES[voice]
                freqs = [root * (1.5 if name == "bass5" else 1.0)] if voice == "bass" else chord
                dur = round(length * beat_s * (4 if voice == "strings" else 1), 2)
                for f in freqs:
                    key = (voice, f, dur)
                    if key not in tones:
                        tones[key] = _tone_at(f, dur, sr, decay_s=decay, attack_s=attack,
                                              harmonics=harmonics, tilt=tilt)  # fmt: skip
                    tone = tones[key]
                    _add(out, tone, at + rng.normal(0, 0.004), sr, g / len(freqs) ** 0.5)
    # a room: early reflections and a tail whose length varies by seed
    tail_s = rng.uniform(0.15, 0.6)
    m = int(tail_s * 3 * sr)
    ir = rng.standard_normal(m) * np.exp(-np.arange(m) / (tail_s * sr))
    wet = scipy.signal.fftconvolve(out, ir)[:n]
    out = out + wet * rng.uniform(0.15, 0.4) * np.abs(out).max() / (np.abs(wet).max() + 1e-9)
    out += 1e-3 * np.abs(out).max() * rng.standard_normal(n)
    out *= 0.8 / (np.abs(out).max() + 1e-9)
    beats_arr = beats_arr[beats_arr < duration_s]
    downbeats = beats_arr[::meter]
    return Song(out.astype(np.float32), sr, beats_arr, downbeats, np.array([0.0]))
