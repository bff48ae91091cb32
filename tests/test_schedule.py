"""The beat-warped schedule: frame grid, warp curves and hold curves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from gendisco import audio, schedule
from synth import drum_song


def make_analysis(beats: np.ndarray, envelope: np.ndarray, duration_s: float = 30.0):
    times = np.arange(envelope.size) / audio.FPS
    return audio.AudioAnalysis(
        duration_s=duration_s,
        tempo_bpm=120.0 if beats.size else 0.0,
        beat_times_s=beats,
        downbeat_times_s=beats[::4],
        tempo_curve_bpm=np.full(envelope.size, 120.0),
        envelope_times_s=times,
        onset_envelope=envelope,
        percussive_envelope=envelope,
        section_times_s=np.array([0.0]),
    )


RNG = np.random.default_rng(0)
NOISY = make_analysis(np.arange(0.25, 30, 0.5), RNG.gamma(0.3, 2.0, int(30 * audio.FPS) + 1))
SILENT = make_analysis(np.zeros(0), np.zeros(int(30 * audio.FPS) + 1))


@pytest.fixture(scope="module")
def drums() -> audio.AudioAnalysis:
    song = drum_song(118, 16, seed=3)
    return audio.analyze_samples(song.y, song.sr)


# 1. Grid --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    fps=st.sampled_from([12, 23.976, 24, 25, 29.97, 30, 50, 59.94, 60, 120]) | st.floats(1, 120),
    cuts=st.lists(st.floats(0, 600, allow_nan=False), min_size=2, max_size=12, unique=True),
)
def test_intervals_tile_the_global_grid(fps: float, cuts: list[float]) -> None:
    cuts = sorted(cuts)
    spans = [schedule.frame_span(a, b, fps) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    assert sum(stop - first for first, stop in spans) == round(cuts[-1] * fps) - round(
        cuts[0] * fps
    )
    for (_, stop), (first, _) in zip(spans[:-1], spans[1:], strict=True):
        assert stop == first  # no frame shown twice, none skipped
    first, stop = spans[0]
    times = schedule.frame_times(first, stop, fps)
    assert times.size == stop - first
    if times.size:
        assert times[0] == pytest.approx(first / fps)


# 2. Warps -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    start=st.floats(0, 25),
    length=st.floats(0, 5),
    fps=st.floats(1, 120),
    warp=st.sampled_from(["onsets", "beats", "linear"]),
    reactivity=st.floats(0, 1),
    silent=st.booleans(),
)
def test_positions_are_monotone_from_0_to_1(start, length, fps, warp, reactivity, silent):
    analysis = SILENT if silent else NOISY
    t = schedule.transition_positions(
        analysis, start_s=start, end_s=start + length, fps=fps, warp=warp, reactivity=reactivity
    )
    first, stop = schedule.frame_span(start, start + length, fps)
    assert t.shape == (max(stop - first, 0),)
    assert np.all(np.isfinite(t))
    if t.size:
        assert t[0] == 0.0
        assert np.all(np.diff(t) >= 0)
        assert np.all((t >= 0) & (t <= 1))
    if t.size > 1:
        assert t[-1] == 1.0


def test_onset_warp_moves_on_the_hits(drums: audio.AudioAnalysis) -> None:
    fps = 24
    kwargs = dict(start_s=2.0, end_s=14.0, fps=fps, warp="onsets")
    steps = np.diff(schedule.transition_positions(drums, **kwargs, reactivity=1.0))
    # the onset strength in each frame's time span (frame i shows i/fps .. (i+1)/fps)
    # (each envelope value stands for one hop centred on its time; integrate over the span)
    hop = 1 / audio.FPS
    cumulative = np.concatenate([[0.0], np.cumsum(drums.onset_envelope) * hop])
    times = drums.envelope_times_s
    edges = np.concatenate([times - hop / 2, [times[-1] + hop / 2]])
    frames = schedule.frame_times(*schedule.frame_span(2.0, 14.0, fps), fps)
    strength = np.diff(np.interp(frames, edges, cumulative))
    assert spearmanr(steps, strength).statistic >= 0.8
    linear = np.diff(schedule.transition_positions(drums, **kwargs, reactivity=0.0))
    assert np.allclose(linear, linear[0])  # reactivity 0: no reaction at all


def test_silent_interval_falls_back_to_linear() -> None:
    t = schedule.transition_positions(
        SILENT, start_s=1.0, end_s=3.0, fps=24, warp="onsets", reactivity=1.0
    )
    assert np.allclose(t, np.linspace(0, 1, 48))


def test_beats_warp_steps_on_each_beat() -> None:
    analysis = make_analysis(np.array([1.0, 2.0, 3.0]), np.zeros(200))
    t = schedule.transition_positions(
        analysis, start_s=0.5, end_s=3.5, fps=50, warp="beats", reactivity=1.0
    )
    times = schedule.frame_times(*schedule.frame_span(0.5, 3.5, 50), 50)
    # flat between beats, a step of a third just after each beat, eased (no jump)
    assert np.allclose(t[times < 1.0], 0.0)
    assert np.allclose(t[(times > 1.2) & (times < 2.0)], 1 / 3)
    assert np.allclose(t[(times > 2.2) & (times < 3.0)], 2 / 3)
    assert np.diff(t).max() < 0.2


def test_single_frame_and_empty_intervals() -> None:
    one = schedule.transition_positions(
        NOISY, start_s=1.0, end_s=1.03, fps=24, warp="onsets", reactivity=0.7
    )
    assert one.tolist() == [0.0]
    none = schedule.transition_positions(
        NOISY, start_s=1.0, end_s=1.01, fps=24, warp="onsets", reactivity=0.7
    )
    assert none.size == 0


def test_unknown_warp_is_refused() -> None:
    with pytest.raises(ValueError, match="warp"):
        schedule.transition_positions(NOISY, start_s=0, end_s=1, fps=24, warp="x", reactivity=1)


# 3. Holds -------------------------------------------------------------------------------


def test_hold_pulses_on_beats_and_decays() -> None:
    beats = np.arange(0.0, 10.0, 0.5)
    analysis = make_analysis(beats, np.zeros(500))
    fps = 60
    mix, zoom = schedule.hold_curves(analysis, start_s=2.0, end_s=6.0, fps=fps, pulse=0.3, zoom=1.1)
    times = schedule.frame_times(*schedule.frame_span(2.0, 6.0, fps), fps)
    assert mix.shape == zoom.shape == times.shape
    assert mix.max() == pytest.approx(0.3) and mix.min() >= 0
    assert zoom.max() == pytest.approx(1.1) and zoom.min() >= 1.0
    on_beat = np.isin(np.round(times, 6), np.round(beats, 6))
    assert np.allclose(mix[on_beat], 0.3)
    # just before the next beat it is back near the subject
    before = np.isin(np.round(times + 1 / fps, 6), np.round(beats, 6))
    assert mix[before].max() < 0.05
    # never drifts: the same every beat
    assert np.allclose(mix[on_beat], mix[on_beat][0])


def test_hold_without_beats_is_still() -> None:
    mix, zoom = schedule.hold_curves(SILENT, start_s=0, end_s=2, fps=24, pulse=0.5, zoom=1.5)
    assert np.all(mix == 0) and np.all(zoom == 1)


# 4. Snapping ----------------------------------------------------------------------------


def test_snap_to_nearest_grid_point() -> None:
    grid = np.array([0.0, 0.5, 1.0, 1.5])
    snapped = schedule.snap_times(np.array([0.1, 0.3, 1.2, 9.0, -1.0]), grid)
    assert snapped.tolist() == [0.0, 0.5, 1.0, 1.5, 0.0]
    assert schedule.snap_times(np.array([0.3]), np.zeros(0)).tolist() == [0.3]
    assert schedule.snap_times(np.array([0.3, 7.0]), np.array([2.0])).tolist() == [2.0, 2.0]
