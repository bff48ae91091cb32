"""Making clips: frames from the model streamed into H.264 encoders, and gap clips that
hold a frame (the same code serves one process and a Ray worker)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gendisco.encoders import ClipJob, EncoderPool, cpu_cores, encoder_threads
from gendisco.project import Project
from gendisco.rendering.plan import ClipPlan
from gendisco.speed import SpeedSettings
from gendisco.video import ClipWriter, last_frame


@dataclass(frozen=True)
class PipelineSpec:
    """Which pipeline renders the clips: what a Ray worker needs to load its own copy, and
    the key of that worker's cache."""

    model: str
    device: str | None
    dtype: str | None
    vae: str
    scheduler: str | None
    speed: SpeedSettings = SpeedSettings()

    def load(self) -> Any:
        from gendisco.models import load_pipeline

        return load_pipeline(
            self.model,
            device=self.device,
            dtype=self.dtype,
            vae=self.vae,
            scheduler=self.scheduler,
            speed=self.speed,
        )


def _clip_writer(clip: ClipPlan, project: Project, *, threads: int | None = None) -> ClipWriter:
    """Every clip uses the same encoder settings, so they can be joined by packet copy."""
    return ClipWriter(
        clip.path,
        fps=project.fps,
        width=project.width,
        height=project.height,
        crf=project.crf,
        preset=project.preset,
        threads=threads,
    )


def _clip_job(
    pipe, clip: ClipPlan, project: Project, *, batch_size: int | None, threads: int
) -> ClipJob:
    """A clip for the encoder pool: its writer, and its frames made when it is opened."""
    from gendisco.models import generate_frames

    def frames() -> Iterator[np.ndarray]:
        keyframes = clip.keyframes
        return generate_frames(
            pipe,
            prompt_a=keyframes.from_prompt,
            prompt_b=keyframes.to_prompt,
            seed_a=keyframes.from_seed,
            seed_b=keyframes.to_seed,
            embed_mix=clip.embed_mix,
            noise_mix=clip.noise_mix,
            width=project.width,
            height=project.height,
            steps=project.steps,
            guidance=project.guidance,
            negative=keyframes.negative,
            batch_size=batch_size,
            zoom=clip.zoom,
        )

    return ClipJob(
        name=clip,
        writer=lambda: _clip_writer(clip, project, threads=threads),
        frames=frames,
        first_frame=clip.first_frame,
    )


def render_clips(
    pipe,
    clips: Sequence[ClipPlan],
    project: Project,
    *,
    batch_size: int | None,
    frames_dir: Path | None,
    encoders: int | None = None,
    on_frames: Callable[[ClipPlan, int, float], None] | None = None,
    on_clip_done: Callable[[ClipPlan], None] | None = None,
    on_pngs_written: Callable[[ClipPlan], None] | None = None,
) -> EncoderPool:
    """Generate and encode `clips`, several encoders at once (see gendisco.encoders).

    `on_frames(clip, count, seconds)` follows every batch; `on_clip_done(clip)` every clip
    on disk; `on_pngs_written(clip)` (from an encoder's thread) every clip whose PNGs are
    all in `frames_dir`, just before the clip is on disk. Returns the pool (how many
    encoders ran at once).
    """
    threads = encoder_threads(cpu_cores())
    pool = EncoderPool(
        encoders=encoders,
        frames_dir=frames_dir,
        on_frames=(lambda job, count, s: on_frames(job.name, count, s)) if on_frames else None,
        on_clip_done=(lambda job: on_clip_done(job.name)) if on_clip_done else None,
        on_pngs_written=(lambda job: on_pngs_written(job.name)) if on_pngs_written else None,
    )
    pool.run(
        _clip_job(pipe, clip, project, batch_size=batch_size, threads=threads) for clip in clips
    )
    return pool


def render_clip(
    pipe,
    clip: ClipPlan,
    project: Project,
    *,
    batch_size: int | None,
    frames_dir: Path | None,
    on_frames: Callable[[int], None],
) -> None:
    """One clip, with one encoder (a Ray task renders one clip)."""
    render_clips(
        pipe,
        [clip],
        project,
        batch_size=batch_size,
        frames_dir=frames_dir,
        encoders=1,
        on_frames=lambda _, count, seconds: on_frames(count),
    )


def render_gap(clip: ClipPlan, project: Project) -> None:
    frame = last_frame(clip.source)
    with _clip_writer(clip, project, threads=encoder_threads(cpu_cores())) as writer:
        for _ in range(clip.frame_count):
            writer.write(frame)
