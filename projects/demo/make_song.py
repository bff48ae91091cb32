"""Synthesise the demo song: 16 s at 120 BPM, drums, bass and pad chords, mono 22.05 kHz.

Run `python projects/demo/make_song.py` to rewrite `song.ogg` beside this file. The song is
made here so the repository ships no copyrighted music, and it is built to exercise the
analysis: steady beats for tempo and beat tracking, and a clear section change at 8 s
(sparse half-time groove with low chords, then four-on-the-floor with open hats and brighter
chords) for structure detection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
BPM = 120.0
BEAT_S = 60.0 / BPM
BARS = 8  # 4/4, 2 s per bar -> 16 s
DURATION_S = BARS * 4 * BEAT_S
SECTION_BAR = 4  # the second section starts at bar 4 = 8 s

RNG = np.random.default_rng(20230417)


def note_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def envelope(n: int, decay_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (decay_s * SR))


def kick(length_s: float = 0.35) -> np.ndarray:
    n = int(length_s * SR)
    t = np.arange(n) / SR
    # pitch falls from 150 Hz to 45 Hz: the thump that onset detectors lock on to
    freq = 45 + 105 * np.exp(-t / 0.04)
    phase = 2 * np.pi * np.cumsum(freq) / SR
    return np.sin(phase) * envelope(n, 0.12)


def snare(length_s: float = 0.25) -> np.ndarray:
    n = int(length_s * SR)
    t = np.arange(n) / SR
    noise = RNG.standard_normal(n) * envelope(n, 0.06)
    body = np.sin(2 * np.pi * 190 * t) * envelope(n, 0.04)
    return 0.6 * noise + 0.5 * body


def hihat(length_s: float = 0.05, open_hat: bool = False) -> np.ndarray:
    if open_hat:
        length_s = 0.3
    n = int(length_s * SR)
    noise = RNG.standard_normal(n)
    # crude high-pass: first difference removes the low end
    bright = np.diff(noise, prepend=0.0)
    return 0.25 * bright * envelope(n, 0.12 if open_hat else 0.015)


def tone(midi: float, length_s: float, *, harmonics: int, decay_s: float) -> np.ndarray:
    n = int(length_s * SR)
    t = np.arange(n) / SR
    wave = sum(np.sin(2 * np.pi * note_hz(midi) * k * t) / k for k in range(1, harmonics + 1))
    attack = np.minimum(1.0, np.arange(n) / (0.01 * SR))
    return wave * attack * envelope(n, decay_s)


def place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float) -> None:
    start = int(round(at_s * SR))
    stop = min(len(track), start + len(sound))
    track[start:stop] += gain * sound[: stop - start]


def make_song() -> np.ndarray:
    """The whole song as float32 samples in [-1, 1], shape (samples,)."""
    track = np.zeros(int(DURATION_S * SR))
    # A minor - F - C - G, one chord per bar; the second section plays it an octave higher
    chords = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]
    bar_s = 4 * BEAT_S
    for bar in range(BARS):
        second = bar >= SECTION_BAR
        t_bar = bar * bar_s
        root, *_ = chords[bar % 4]
        # 1. drums: half-time groove, then four-on-the-floor with sixteenth hats
        for beat in range(4):
            t_beat = t_bar + beat * BEAT_S
            if second or beat in (0, 2):
                place(track, kick(), t_beat, 0.9)
            if beat in (1, 3):
                place(track, snare(), t_beat, 0.5 if second else 0.35)
            for sub in range(4 if second else 2):
                t_hat = t_beat + sub * BEAT_S / (4 if second else 2)
                open_hat = second and sub == 2
                place(track, hihat(open_hat=open_hat), t_hat, 0.8 if open_hat else 0.6)
        # 2. bass: root on every beat (second section: eighths with octave jumps)
        steps = 8 if second else 4
        for step in range(steps):
            midi = root - 24 + (12 if second and step % 2 else 0)
            place(
                track,
                tone(midi, bar_s / steps, harmonics=3, decay_s=0.2),
                t_bar + step * bar_s / steps,
                0.35,
            )
        # 3. pad: the bar's chord held for the whole bar
        for note in chords[bar % 4]:
            midi = note + (12 if second else 0)
            place(track, tone(midi, bar_s, harmonics=2, decay_s=2.0), t_bar, 0.08)
    peak = np.max(np.abs(track))
    return (0.9 * track / peak).astype(np.float32)


def main() -> None:
    out = Path(__file__).with_name("song.ogg")
    sf.write(out, make_song(), SR, format="OGG", subtype="VORBIS")
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB, {DURATION_S:.1f} s)")


if __name__ == "__main__":
    main()
