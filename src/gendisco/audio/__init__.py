"""Audio decoding and music analysis: tempo, beats, downbeats, envelopes, sections.

One job per module, in the order the analysis runs them (`analysis.analyze_samples`):

- `decode`: any file FFmpeg reads to float samples (PyAV), and a cheap duration probe;
- `spectrum`: one STFT and what is made of it (mel, log-mel, chroma, a percussive mask);
- `onset`: onset envelopes, overall and per band, and the accent beats are tracked on;
- `tempo`: periodicity, the local tempo path a tracker follows, tempo segments;
- `beat`: dynamic-programming beat tracking, and the metrical level listeners tap;
- `downbeat`: beats to the bar and where the bar starts;
- `segment`: section boundaries;
- `cache`: results cached per file content and analysis version;
- `plot`: a PNG of it all.

Everything runs on one STFT (no `librosa.beat` import, no full-resolution HPSS), so a
3-minute song is analysed in about two seconds.
"""

from __future__ import annotations

from gendisco.audio.analysis import AudioAnalysis, analyze, analyze_samples, is_cached
from gendisco.audio.cache import ANALYSIS_VERSION, cache_dir, file_key
from gendisco.audio.decode import check_song_file, decode, probe_duration
from gendisco.audio.plot import plot_analysis, plot_path
from gendisco.audio.spectrum import FPS, HOP, N_FFT, SR
from gendisco.audio.tempo import TempoSegment, tempo_segments

__all__ = [
    "ANALYSIS_VERSION",
    "FPS",
    "HOP",
    "N_FFT",
    "SR",
    "AudioAnalysis",
    "TempoSegment",
    "analyze",
    "analyze_samples",
    "cache_dir",
    "check_song_file",
    "decode",
    "file_key",
    "is_cached",
    "plot_analysis",
    "plot_path",
    "probe_duration",
    "tempo_segments",
]
