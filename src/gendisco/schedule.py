"""The beat-warped schedule: per-frame interpolation positions and hold curves.

Pure numpy functions of an `AudioAnalysis` and an interval; no I/O, no torch.

One global frame grid: frame `i` shows time `i / fps`, and an interval owns the frames
`round(start_s * fps) <= i < round(end_s * fps)`. Intervals therefore tile the grid
exactly and clip lengths never accumulate rounding error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gendisco.audio import AudioAnalysis

EASE_S = 0.12  # how long a `beats` step takes, at most (a short, visible glide)
DECAY_BEATS = 0.25  # hold pulse/zoom decay time constant, in beat periods


def frame_span(start_s: float, end_s: float, fps: float) -> tuple[int, int]:
    """Global frame indices (first, stop) an interval owns: `round(t * fps)` each side.

    Python's `round` (half to even) is the grid rule everywhere; do not reimplement it.
    """
    return round(start_s * fps), round(end_s * fps)


def frame_times(first: int, stop: int, fps: float) -> np.ndarray:
    """Display time (s) of global frames `first <= i < stop`: `i / fps`, float64."""
    return np.arange(first, stop, dtype=np.float64) / fps


def transition_positions(
    analysis: AudioAnalysis,
    *,
    start_s: float,
    end_s: float,
    fps: float,
    warp: str,
    reactivity: float,
) -> np.ndarray:
    """Interpolation position t in [0, 1] for each frame of the interval.

    1. `linear`: evenly spaced.
    2. `onsets`: cumulative percussive onset strength between the interval's first and
       last frame, normalised; so each frame-to-frame step is proportional to the
       percussive energy in that frame's time span. Silence falls back to linear.
    3. `beats`: one eased step per detected beat (no beats: linear).
    The warped curve is blended with linear by `reactivity` (0 = linear, 1 = warp only).
    Result: float64, monotone, [0] == 0.0 and [-1] == 1.0 (one frame: [0.0]).
    """
    first, stop = frame_span(start_s, end_s, fps)
    n = stop - first
    if n <= 0:
        return np.zeros(0)
    if n == 1:
        return np.zeros(1)
    linear = np.arange(n, dtype=np.float64) / (n - 1)
    times = frame_times(first, stop, fps)
    if warp == "linear":
        warped = None
    elif warp == "onsets":
        warped = _normalised(_cumulative_energy(analysis, times))
    elif warp == "beats":
        warped = _normalised(_beat_steps(analysis.beat_times_s, times))
    else:
        raise ValueError(f"unknown warp {warp!r}: expected onsets, beats or linear")
    if warped is None:
        return linear
    r = float(np.clip(reactivity, 0.0, 1.0))
    t = r * warped + (1.0 - r) * linear
    t = np.clip(np.maximum.accumulate(t), 0.0, 1.0)
    t[0], t[-1] = 0.0, 1.0
    return t


def hold_curves(
    analysis: AudioAnalysis,
    *,
    start_s: float,
    end_s: float,
    fps: float,
    pulse: float,
    zoom: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (noise_mix, zoom_factor) for a hold.

    On each beat the noise mix jumps to `pulse` and decays back towards 0 (time constant
    a quarter beat), so the picture breathes with the music and returns to its subject;
    the zoom factor punches in to `zoom` and decays to 1 the same way. A beat shortly
    before the interval still decays into it, so a hold joins its neighbour smoothly.
    Returns two float64 arrays: noise_mix in [0, pulse], zoom_factor in [1, zoom].
    """
    first, stop = frame_span(start_s, end_s, fps)
    times = frame_times(first, stop, fps)
    envelope = _beat_decay(np.asarray(analysis.beat_times_s, dtype=np.float64), times)
    return pulse * envelope, 1.0 + (zoom - 1.0) * envelope


def snap_times(times_s: np.ndarray, grid_s: np.ndarray) -> np.ndarray:
    """Each time moved to the nearest grid point (e.g. beats or downbeats).

    An empty grid leaves the times unchanged.
    """
    times_s = np.asarray(times_s, dtype=np.float64)
    grid = np.sort(np.asarray(grid_s, dtype=np.float64))
    if grid.size == 0:
        return times_s.copy()
    right = np.clip(np.searchsorted(grid, times_s), 1, max(grid.size - 1, 1))
    left = right - 1
    if grid.size == 1:
        return np.full_like(times_s, grid[0])
    nearer_left = np.abs(times_s - grid[left]) <= np.abs(grid[right] - times_s)
    return np.where(nearer_left, grid[left], grid[right])


# Internals ------------------------------------------------------------------------------


def _normalised(curve: np.ndarray) -> np.ndarray | None:
    """Map a non-decreasing curve onto [0, 1]; None when it does not rise (silence)."""
    rise = curve[-1] - curve[0]
    if not np.isfinite(rise) or rise <= 1e-12 * max(1.0, abs(curve[-1])):
        return None
    return (curve - curve[0]) / rise


def _cumulative_energy(analysis: AudioAnalysis, times: np.ndarray) -> np.ndarray:
    """Integral of the percussive envelope from the song's start up to each time.

    Envelope frame k stands for [t_k - hop/2, t_k + hop/2]; the integral is piecewise
    linear in between, so a frame's step is exactly the energy in its time span. The
    interval's quiet floor (10th percentile) is removed so sustained noise does not move
    the picture when nothing is hit.
    """
    env_t = np.asarray(analysis.envelope_times_s, dtype=np.float64)
    env = np.asarray(analysis.percussive_envelope, dtype=np.float64)
    if env.size < 2:
        return np.zeros_like(times)
    hop = env_t[1] - env_t[0]
    inside = (env_t >= times[0] - hop) & (env_t <= times[-1] + hop)
    floor = np.percentile(env[inside], 10) if inside.any() else 0.0
    env = np.maximum(env - floor, 0.0)
    edges = np.concatenate([env_t - hop / 2, [env_t[-1] + hop / 2]])
    cumulative = np.concatenate([[0.0], np.cumsum(env * hop)])
    return np.interp(times, edges, cumulative)


def _beat_steps(beats: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Number of beats passed at each time, each step eased with a smoothstep."""
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size == 0:
        return np.zeros_like(times)
    ease = EASE_S
    if beats.size > 1:
        ease = min(EASE_S, 0.5 * float(np.median(np.diff(beats))))
    x = np.clip((times[:, None] - beats[None, :]) / ease, 0.0, 1.0)
    return (x * x * (3.0 - 2.0 * x)).sum(axis=1)


def _beat_decay(beats: np.ndarray, times: np.ndarray) -> np.ndarray:
    """1 on a beat, decaying exponentially until the next; 0 before the first beat."""
    if beats.size == 0 or times.size == 0:
        return np.zeros_like(times)
    period = float(np.median(np.diff(beats))) if beats.size > 1 else 0.5
    tau = DECAY_BEATS * period
    last = np.searchsorted(beats, times + 1e-9, side="right") - 1
    since = times - beats[np.maximum(last, 0)]
    return np.where(last >= 0, np.exp(-since / tau), 0.0)
