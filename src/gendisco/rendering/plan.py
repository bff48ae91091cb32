"""The plan of a render: every clip of the video, its frames, their positions and its name.

A clip's name hashes everything that decides its pixels, so a clip on disk is reused exactly
when nothing that shows in it changed. Snapping to the song's beats or bars happens here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gendisco import schedule
from gendisco.errors import UserError
from gendisco.project import TIME_EPS_S, Project, ResolvedInterval, gap_warning, resolve_intervals

# A long interval is split into clips of at most this many frames, so a crash loses at most
# one chunk of work and several machines can share one interval. Part of every clip's name:
# changing it renames every clip.
CHUNK_FRAMES = 480
# A hold's noise swings on each beat toward the noise of its seed plus this offset.
HOLD_PARTNER_SEED_OFFSET = 1_000_003
# Bump when a change to the code changes the pixels of a clip (the model call, or how
# gendisco.schedule turns the music into per-frame positions), so old clips are not reused.
CLIP_FORMAT_VERSION = 2
# `render --draft`: a quick look at the timing and the motion, kept apart from real clips.
DRAFT_MODEL = "tiny"
DRAFT_LONG_SIDE_PX = 128  # with a built-in model; a real model needs more pixels to show much
DRAFT_LONG_SIDE_REAL_PX = 256
DRAFT_FPS = 8.0
DRAFT_FOLDER = "draft"  # inside the project's output folder


@dataclass(frozen=True)
class ClipPlan:
    """One clip: a chunk of an interval (or a gap), with every input of its pixels."""

    kind: Literal["interval", "gap"]
    interval: int  # index of the interval (for a gap: the interval before it)
    chunk: int
    first_frame: int  # global frame index of the clip's first frame
    frame_count: int
    key: str  # hash of everything that decides the pixels
    path: Path
    keyframes: ResolvedInterval | None = None
    embed_mix: np.ndarray | None = None
    noise_mix: np.ndarray | None = None
    zoom: np.ndarray | None = None
    source: Path | None = None  # for a gap: the clip whose last frame it holds


@dataclass(frozen=True)
class RenderPlan:
    project: Project
    model: str
    intervals: list[ResolvedInterval]
    clips: list[ClipPlan]
    first_frame: int
    stop_frame: int
    warnings: list[str] = field(default_factory=list)
    # gaps between the intervals as laid out: the project's own, or after snapping
    gap_warnings: list[str] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return self.stop_frame - self.first_frame


def _hash(settings: dict[str, Any]) -> str:
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pixel_settings(project: Project, model: str) -> dict[str, Any]:
    """The project-wide settings that decide pixels (device and dtype deliberately not; speed
    settings only those that change pixels, and only when set)."""
    speed = {"speed": project.speed.pixel_key()} if project.speed.pixel_key() else {}
    return {
        **speed,
        "format": CLIP_FORMAT_VERSION,
        "model": model,
        "vae": project.vae,
        "scheduler": project.scheduler,
        "width": project.width,
        "height": project.height,
        "steps": project.steps,
        "guidance": project.guidance,
        "fps": project.fps,
        "crf": project.crf,
        "preset": project.preset,
        "chunk": CHUNK_FRAMES,
    }


def draft_project(project: Project, *, model: str | None = None) -> Project:
    """The project as a quick draft: small frames, DRAFT_FPS, the built-in `tiny` model
    unless `model` is given, rendered into OUTPUT/draft/ so drafts never mix with real clips.

    The size keeps the aspect ratio, its long side DRAFT_LONG_SIDE_PX (a built-in model) or
    DRAFT_LONG_SIDE_REAL_PX, never larger than the project's. The tiny model stands in with
    its own steps and no guidance: more steps would cost time and show nothing more.
    """
    chosen = model or DRAFT_MODEL
    builtin = chosen.startswith(("tiny", "random:"))
    long_side = DRAFT_LONG_SIDE_PX if builtin else DRAFT_LONG_SIDE_REAL_PX
    scale = min(1.0, long_side / max(project.width, project.height))

    def pixels(size: int) -> int:
        # multiples of 16: the built-in tiny model draws in 16-pixel blocks
        return max(64, int(round(size * scale / 16)) * 16)

    update: dict[str, Any] = {
        "model": chosen,
        "width": pixels(project.width),
        "height": pixels(project.height),
        "fps": min(project.fps, DRAFT_FPS),
        "preset": "veryfast",
        "output": project.output / DRAFT_FOLDER,
    }
    if model is None:
        update.update(steps=min(project.steps, 2), guidance=0.0)
    return project.model_copy(update=update)


def snap_intervals(
    intervals: list[ResolvedInterval], grid_s: np.ndarray
) -> tuple[list[ResolvedInterval], list[str]]:
    """Move interval boundaries to the nearest grid time (beats or downbeats).

    An interval that snapping would empty, or make overlap its predecessor, keeps its
    written times, with a warning.
    """

    if len(grid_s) == 0:
        return intervals, ["snap: no beats were found in the song; boundaries stay as written"]
    snapped: list[ResolvedInterval] = []
    warnings = []
    for interval in intervals:
        start, end = (
            float(x)
            for x in schedule.snap_times(np.array([interval.start_s, interval.end_s]), grid_s)
        )
        previous_end = snapped[-1].end_s if snapped else -1.0
        if end <= start or start < previous_end - 1e-9:
            warnings.append(
                f"intervals.{interval.index}: snapping would empty it or overlap the previous "
                "interval; its boundaries stay as written"
            )
            snapped.append(interval)
        else:
            snapped.append(replace(interval, start_s=start, end_s=end))
    return snapped, warnings


def snap_grid(beats_s: np.ndarray, analysis) -> np.ndarray:
    """Where boundaries may snap to: the beats (or downbeats), and the song's start and end,
    so an interval written to end with the song still does after its last bar."""
    if len(beats_s) == 0:
        return np.zeros(0)
    return np.unique(np.concatenate([[0.0], np.asarray(beats_s, float), [analysis.duration_s]]))


def gap_warnings(intervals: list[ResolvedInterval], *, snapped: str) -> list[str]:
    """A warning per stretch of time between intervals, as they lie after snapping."""
    return [
        gap_warning(
            previous.index, previous.end_s, current.index, current.start_s, snapped=snapped
        )  # fmt: skip
        for previous, current in zip(intervals, intervals[1:], strict=False)
        if current.start_s > previous.end_s + TIME_EPS_S
    ]


def laid_out_intervals(
    project: Project, analysis
) -> tuple[list[ResolvedInterval], list[str], list[str]]:
    """The intervals where the render puts them (snapped to the song's beats or bars when
    the project says so), the snapping's warnings, and the gaps left between them."""
    intervals = resolve_intervals(project)
    if project.snap == "none":
        return intervals, [], list(project.warnings)
    beats = analysis.beat_times_s if project.snap == "beat" else analysis.downbeat_times_s
    intervals, warnings = snap_intervals(intervals, snap_grid(beats, analysis))
    gaps = gap_warnings(intervals, snapped="beats" if project.snap == "beat" else "bars")
    return intervals, warnings, gaps


def _interval_curves(
    interval: ResolvedInterval, analysis, fps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-frame (embedding mix, noise mix, zoom) of one interval."""
    if interval.kind == "hold":
        pulse, zoom = schedule.hold_curves(
            analysis,
            start_s=interval.start_s,
            end_s=interval.end_s,
            fps=fps,
            pulse=interval.pulse,
            zoom=interval.zoom,
        )
        embed = np.zeros_like(pulse)
        return embed, pulse, (zoom if interval.zoom != 1.0 else None)
    t = schedule.transition_positions(
        analysis,
        start_s=interval.start_s,
        end_s=interval.end_s,
        fps=fps,
        warp=interval.warp,
        reactivity=interval.reactivity,
    )
    return t, t, None


def plan_render(project: Project, analysis, *, model: str | None = None) -> RenderPlan:
    """Every clip of the video, its frames and its name.

    A clip's name hashes what decides its pixels: the settings, the interval's prompts,
    seeds and motion parameters, its frames, and the song's content (which decides the
    analysis). Not the per-frame positions themselves: the analysis differs in the last
    float digits between machines (thread counts change the order of sums), and a name
    that followed that noise would make every machine re-render every clip.
    """
    from gendisco.audio import file_key

    model = model or project.model
    settings = {**pixel_settings(project, model), "song": file_key(project.song)}
    intervals, warnings, gaps = laid_out_intervals(project, analysis)
    clips_dir = project.output / "clips"
    clips: list[ClipPlan] = []
    previous_stop = None
    previous_clip: ClipPlan | None = None
    for interval in intervals:
        first, stop = schedule.frame_span(interval.start_s, interval.end_s, project.fps)
        if previous_stop is not None and first > previous_stop and previous_clip is not None:
            gap_key = _hash({"gap": previous_clip.key, "frames": first - previous_stop})
            clips.append(
                ClipPlan(
                    kind="gap",
                    interval=previous_clip.interval,
                    chunk=0,
                    first_frame=previous_stop,
                    frame_count=first - previous_stop,
                    key=gap_key,
                    path=clips_dir / f"{previous_clip.interval:03d}-gap-{gap_key}.mp4",
                    source=previous_clip.path,
                )
            )
        if stop <= first:
            warnings.append(
                f"intervals.{interval.index}: shorter than one frame at {project.fps:g} fps; "
                "it is skipped"
            )
            continue
        embed, noise, zoom = _interval_curves(interval, analysis, project.fps)
        seed_b = interval.to_seed
        if interval.kind == "hold":
            seed_b = (interval.from_seed + HOLD_PARTNER_SEED_OFFSET) % 2**32
        keyframes = {
            "prompt_a": interval.from_prompt,
            "prompt_b": interval.to_prompt,
            "seed_a": interval.from_seed,
            "seed_b": seed_b,
            "negative": interval.negative,
        }
        motion = {
            "kind": interval.kind,
            "start_s": interval.start_s,
            "end_s": interval.end_s,
            "warp": interval.warp,
            "reactivity": interval.reactivity,
            "pulse": interval.pulse,
            "zoom": interval.zoom,
        }
        for chunk, chunk_first in enumerate(range(first, stop, CHUNK_FRAMES)):
            chunk_stop = min(chunk_first + CHUNK_FRAMES, stop)
            part = slice(chunk_first - first, chunk_stop - first)
            chunk_zoom = zoom[part] if zoom is not None else None
            key = _hash({**settings, **keyframes, **motion, "first_frame": chunk_first})
            clip = ClipPlan(
                kind="interval",
                interval=interval.index,
                chunk=chunk,
                first_frame=chunk_first,
                frame_count=chunk_stop - chunk_first,
                key=key,
                path=clips_dir / f"{interval.index:03d}-{chunk:02d}-{key}.mp4",
                keyframes=_with_partner_seed(interval, seed_b),
                embed_mix=embed[part],
                noise_mix=noise[part],
                zoom=chunk_zoom,
            )
            clips.append(clip)
            previous_clip = clip
        previous_stop = stop
    interval_clips = [clip for clip in clips if clip.kind == "interval"]
    if not interval_clips:
        raise UserError("no interval is long enough to hold a single frame")
    return RenderPlan(
        project=project,
        model=model,
        intervals=intervals,
        clips=clips,
        first_frame=interval_clips[0].first_frame,
        stop_frame=max(c.first_frame + c.frame_count for c in clips),
        warnings=warnings,
        gap_warnings=gaps,
    )


def _with_partner_seed(interval: ResolvedInterval, seed_b: int) -> ResolvedInterval:

    return replace(interval, to_seed=seed_b) if seed_b != interval.to_seed else interval
