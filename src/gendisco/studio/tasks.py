"""What the studio's model jobs do: render intervals, explore a prompt over seeds.

Both read the project file as it is when the job starts (the page may have saved edits
since it queued the job) and use the pipeline kept by `PipelineCache`.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gendisco.studio.jobs import Job, PipelineCache, Progress

EXPLORE_BATCH = 4  # images per model call: progress and cancel between calls
EXPLORE_SETS_KEPT = 12  # explored image sets kept in memory for the page


def styled(prompt: str, style: str) -> str:
    """The prompt as a render uses it: the project's style appended (see resolve_intervals)."""
    return f"{prompt}, {style}" if style else prompt


def render_job(
    job: Job,
    *,
    project_path: Path,
    pipelines: PipelineCache,
    model: str | None,
    intervals: Sequence[int] | None,
) -> dict[str, Any]:
    """Render the project (or some intervals) with the kept pipeline; clips are cached."""
    from gendisco.lock import OutputBusy, lock_holder
    from gendisco.project import load_project
    from gendisco.rendering import RenderProgress, render

    project = load_project(project_path)
    chosen = model or project.model
    holder = lock_holder(project.output)
    if holder is not None and holder.pid != os.getpid():  # fail before loading a model
        raise OutputBusy(project.output, holder)
    job.report(Progress(stage="load", message=f"loading {chosen}"))
    pipeline = pipelines.get(
        chosen, vae=project.vae, scheduler=project.scheduler, speed=project.speed
    )

    def progress(event: RenderProgress) -> None:
        if event.stage == "warn":
            return  # not a stage of the job: its result lists the warnings
        job.report(
            Progress(
                stage=event.stage,
                message=event.message,
                interval=event.interval,
                frames_done=event.frames_done,
                frames_total=event.frames_total,
            )
        )

    result = render(
        project,
        intervals=list(intervals) if intervals is not None else None,
        model=chosen,
        pipeline=pipeline,
        progress=progress,
    )
    return {
        "final": result.final_path is not None,
        "frames_rendered": result.frames_rendered,
        "frames_per_second": round(result.frames_per_second, 2),
        "seconds": round(result.seconds, 2),
        "warnings": result.warnings,
    }


class ExploreStore:
    """Explored images as PNG bytes, by job id and tile index; the oldest sets are dropped."""

    def __init__(self) -> None:
        self._sets: OrderedDict[str, list[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, job_id: str, images: list[bytes]) -> None:
        with self._lock:
            self._sets[job_id] = images
            while len(self._sets) > EXPLORE_SETS_KEPT:
                self._sets.popitem(last=False)

    def get(self, job_id: str, index: int) -> bytes | None:
        with self._lock:
            images = self._sets.get(job_id)
        if images is None or not 0 <= index < len(images):
            return None
        return images[index]


def explore_job(
    job: Job,
    *,
    project_path: Path,
    pipelines: PipelineCache,
    store: ExploreStore,
    model: str | None,
    prompt: str,
    seeds: Sequence[int],
) -> dict[str, Any]:
    """`prompt` over `seeds` with the project's model and settings: exactly the keyframe a
    render starts on for that prompt and seed (the `gendisco preview` path)."""
    from PIL import Image

    from gendisco.models import generate_images
    from gendisco.project import load_project

    project = load_project(project_path, check_song=False)
    chosen = model or project.model
    job.report(Progress(stage="load", message=f"loading {chosen}", frames_total=len(seeds)))
    pipeline = pipelines.get(
        chosen, vae=project.vae, scheduler=project.scheduler, speed=project.speed
    )
    full_prompt = styled(prompt, project.style)
    pngs: list[bytes] = []
    for first in range(0, len(seeds), EXPLORE_BATCH):
        job.report(
            Progress(
                stage="render",
                message=prompt,
                frames_done=len(pngs),
                frames_total=len(seeds),
            )
        )
        batch = list(seeds[first : first + EXPLORE_BATCH])
        images = generate_images(
            pipeline,
            prompts=[full_prompt] * len(batch),
            seeds=batch,
            width=project.width,
            height=project.height,
            steps=project.steps,
            guidance=project.guidance,
            negative=project.negative,
        )
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
            pngs.append(buffer.getvalue())
    job.report(Progress(stage="done", frames_done=len(pngs), frames_total=len(seeds)))
    store.put(job.id, pngs)
    return {
        "prompt": prompt,
        "images": [
            {"seed": int(seed), "url": f"/api/explore/{job.id}/{i}.png"}
            for i, seed in enumerate(seeds)
        ],
    }
