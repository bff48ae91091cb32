"""`analyze(path) -> AudioAnalysis`: the steps of the analysis, in order, and its cache."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from gendisco.audio import beat, downbeat, onset, segment, spectrum, tempo
from gendisco.audio.cache import cached_path
from gendisco.audio.decode import check_song_file, decode
from gendisco.audio.spectrum import FPS, HOP, SR
from gendisco.audio.tempo import TempoSegment

SILENCE_PEAK = 1e-4  # -80 dBFS: quieter than this is treated as silence


@dataclass(frozen=True)
class AudioAnalysis:
    """What the schedule needs from a song. Times in seconds; envelopes on a uniform grid."""

    duration_s: float
    tempo_bpm: float  # main tempo (median beat period); 0.0 for silence
    beat_times_s: np.ndarray  # float64, sorted
    downbeat_times_s: np.ndarray  # subset of beats
    tempo_curve_bpm: np.ndarray  # local tempo at each envelope frame
    envelope_times_s: np.ndarray  # time (s) of each envelope frame, uniform hop
    onset_envelope: np.ndarray  # onset strength >= 0, one value per envelope frame
    percussive_envelope: np.ndarray  # onset strength of the percussive (HPSS) part >= 0
    section_times_s: np.ndarray  # structural boundaries, starting with 0.0
    # stretches of steady tempo covering the song, split on the first beat of each sustained
    # change; derived from the beats when not given
    tempo_segments: tuple[TempoSegment, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.tempo_segments is None:
            segments = tempo.tempo_segments(np.asarray(self.beat_times_s), self.duration_s)
            object.__setattr__(self, "tempo_segments", segments)


def _to_arrays(analysis: AudioAnalysis) -> dict[str, np.ndarray]:
    arrays = {f.name: np.asarray(getattr(analysis, f.name)) for f in fields(analysis)}
    arrays["tempo_segments"] = np.asarray(analysis.tempo_segments, dtype=float).reshape(-1, 3)
    return arrays


def _from_arrays(data) -> AudioAnalysis:
    values = {}
    for f in fields(AudioAnalysis):
        value = data[f.name]
        if f.name == "tempo_segments":
            value = tuple(TempoSegment(*map(float, row)) for row in value)
        elif value.ndim == 0:
            value = float(value)
        values[f.name] = value
    return AudioAnalysis(**values)


def is_cached(path: Path | str) -> bool:
    """Whether `analyze(path)` will read a cached result instead of analysing."""
    path = Path(path)
    return path.is_file() and cached_path(path).is_file()


def analyze(path: Path | str, *, cache: bool = True) -> AudioAnalysis:
    """Analyse a song file; the result is cached by the file's content (sha256)."""
    path = Path(path)
    check_song_file(path)
    cached = cached_path(path) if cache else None
    if cached is not None and cached.is_file():
        try:
            with np.load(cached) as data:
                return _from_arrays(data)
        except (OSError, KeyError, ValueError, TypeError):
            pass  # unreadable or from another layout: analyse again and overwrite
    result = analyze_samples(decode(path, sr=SR), SR)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(partial, **_to_arrays(result))
            partial.replace(cached)  # atomic: a concurrent reader never sees half a file
        except OSError:
            pass  # a read-only cache must not stop the analysis
    return result


def analyze_samples(y: np.ndarray, sr: int = SR) -> AudioAnalysis:
    """Analyse mono float samples at `sr` (resampled to 22050 Hz if needed)."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim > 1:
        y = y.mean(axis=0)
    if sr != SR:
        import librosa

        y = librosa.resample(y, orig_sr=sr, target_sr=SR)
    duration_s = y.size / SR
    n_frames = 1 + y.size // HOP
    times = np.arange(n_frames) / FPS
    zeros, empty, start = np.zeros(n_frames), np.zeros(0), np.array([0.0])
    if y.size == 0 or np.abs(y).max() < SILENCE_PEAK:
        return AudioAnalysis(duration_s, 0.0, empty, empty, zeros, times, zeros, zeros, start)

    # 1. one STFT feeds everything: onsets, beat accent, percussive onsets, chroma, timbre
    power = spectrum.stft_magnitude(y) ** 2
    mel = spectrum.mel_power(power)
    log_mel = spectrum.power_to_db(mel)
    onset_env = onset.spectral_flux(log_mel)
    loudness = onset.compressed(mel)
    bands = onset.band_flux(loudness)
    accent = onset.beat_accent(bands)
    percussive = onset.spectral_flux(spectrum.power_to_db(mel * spectrum.percussive_mask(mel)))

    # 2. a local tempo path, beats along it, then the metrical level listeners tap
    period = tempo.tempo_path(accent)
    if period is None:
        beat_frames = empty.astype(int)
    else:
        beat_frames = beat.beat_frames(accent, period, low=bands[0])
    beats = beat_frames / FPS
    if beats.size < 2:
        return AudioAnalysis(duration_s, 0.0, empty, empty, zeros, times, onset_env, percussive,
                             start)  # fmt: skip

    # 3. tempo: over 4 beats the frame quantisation of single intervals averages out
    span = min(4, beats.size - 1)
    tempo_bpm = float(60.0 * span / np.median(beats[span:] - beats[:-span]))

    # 4. downbeats from harmony, bass notes, kick/bass and snare/chord onsets; sections
    chroma = spectrum.chroma(power)
    bar_starts, _ = downbeat.downbeats(beat_frames, chroma, loudness, bands)
    downbeats = beats[bar_starts].astype(np.float64)
    sections = segment.sections(beat_frames, log_mel, chroma, duration_s, downbeats)
    return AudioAnalysis(
        duration_s=duration_s,
        tempo_bpm=tempo_bpm,
        beat_times_s=beats.astype(np.float64),
        downbeat_times_s=downbeats,
        tempo_curve_bpm=tempo.tempo_curve(beats, times),
        envelope_times_s=times,
        onset_envelope=onset_env,
        percussive_envelope=percussive,
        section_times_s=sections,
    )
