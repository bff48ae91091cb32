"""A picture of the analysis: waveform, onsets, beats, downbeats, sections, local tempo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gendisco.audio.analysis import AudioAnalysis
from gendisco.audio.decode import decode
from gendisco.errors import AudioError

DEFAULT_NAME = "analysis.png"  # the file written when the output names a folder
BEAT, DOWNBEAT, SECTION, TEMPO = "tab:red", "tab:red", "tab:green", "tab:purple"


def plot_path(out: Path | str) -> Path:
    """The file a plot for `out` goes to: `out` itself, or DEFAULT_NAME inside it when it
    is a folder (an existing one, or any path written with a trailing slash)."""
    text = str(out)
    path = Path(out)
    if path.is_dir() or text.endswith(("/", "\\")):
        return path / DEFAULT_NAME
    return path


def plot_analysis(
    path: Path | str,
    analysis: AudioAnalysis,
    out: Path | str,
    *,
    intervals: list[tuple[str, np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """Draw the analysis of the song at `path` to a PNG; returns the file written.

    Panels: waveform; onset envelopes; local tempo (BPM) with its steady segments; and,
    when `intervals` is given ((label, frame times (s), per-frame position 0..1) per
    interval), their warp curves, all over one time axis. Beats are thin red lines,
    downbeats thick red lines, section boundaries green, as the legend says.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    out = plot_path(out)
    if not out.parent.is_dir():
        raise AudioError(f"cannot write {out}: folder {out.parent} does not exist")
    wave_sr = 2000  # enough for an outline of the waveform
    y = decode(path, sr=wave_sr)
    heights = [2.4, 2.4, 1.3] + ([2.4] if intervals else [])
    fig, axes = plt.subplots(
        len(heights),
        1,
        figsize=(14, sum(heights) + 0.9),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    axes = axes[:, 0]
    wave, onsets, tempo_ax = axes[:3]
    wave.plot(np.arange(y.size) / wave_sr, y, lw=0.3, color="0.3")
    wave.set_ylabel("waveform")
    tempo = f"{analysis.tempo_bpm:.1f} BPM" if analysis.tempo_bpm else "no beat"
    wave.set_title(f"{Path(path).name}: {tempo}, {analysis.beat_times_s.size} beats")
    times = analysis.envelope_times_s
    onsets.plot(times, analysis.onset_envelope, lw=0.6, label="onset")
    onsets.plot(times, analysis.percussive_envelope, lw=0.6, label="percussive")
    onsets.set_ylabel("onset strength")
    onsets.legend(loc="upper right", fontsize=7)
    for ax in (wave, onsets):
        for t in analysis.beat_times_s:
            ax.axvline(t, color=BEAT, lw=0.3, alpha=0.5)
        for t in analysis.downbeat_times_s:
            ax.axvline(t, color=DOWNBEAT, lw=0.9, alpha=0.8)
    for ax in axes:
        for t in analysis.section_times_s[1:]:
            ax.axvline(t, color=SECTION, lw=2.0, alpha=0.8)
    _draw_tempo(tempo_ax, analysis)
    if intervals:
        warp = axes[3]
        for label, frame_times, positions in intervals:
            warp.plot(frame_times, positions, lw=1.0)
            if frame_times.size:
                warp.axvspan(frame_times[0], frame_times[-1], alpha=0.06, color="tab:blue")
                warp.text(frame_times[0], 1.02, label, fontsize=7, va="bottom")
        warp.set_ylim(-0.05, 1.2)
        warp.set_ylabel("warp t / pulse")
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(0, analysis.duration_s)
    legend = [
        Line2D([], [], color=BEAT, lw=0.6, label="beat"),
        Line2D([], [], color=DOWNBEAT, lw=1.6, label="downbeat"),
        Line2D([], [], color=SECTION, lw=2.0, label="section"),
        Line2D([], [], color=TEMPO, lw=1.2, label="local tempo"),
    ]
    fig.legend(handles=legend, loc="upper right", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    try:
        fig.savefig(out, dpi=100, format="png")
    except OSError as error:
        raise AudioError(f"cannot write {out}: {error}") from None
    finally:
        plt.close(fig)
    return out


def _draw_tempo(ax, analysis: AudioAnalysis) -> None:
    """Local tempo from the beats, and each steady segment's tempo as a flat step."""
    ax.set_ylabel("tempo (BPM)")
    if analysis.beat_times_s.size < 2:
        ax.text(0.5, 0.5, "no beat", transform=ax.transAxes, ha="center", va="center")
        return
    first, last = analysis.beat_times_s[0], analysis.beat_times_s[-1]
    times = analysis.envelope_times_s
    inside = (times >= first) & (times <= last)
    ax.plot(times[inside], analysis.tempo_curve_bpm[inside], color=TEMPO, lw=1.2)
    for segment in analysis.tempo_segments:
        ax.hlines(segment.bpm, segment.start_s, segment.end_s, color=TEMPO, lw=0.8, ls="--")
        ax.text(segment.start_s, segment.bpm, f" {segment.bpm:.0f}", fontsize=7, va="bottom")
    values = analysis.tempo_curve_bpm[inside]
    if values.size:
        lo, hi = float(values.min()), float(values.max())
        pad = max(5.0, 0.15 * (hi - lo))
        ax.set_ylim(lo - pad, hi + pad)
