"""Render a project: intervals to cached clips to `final.mp4` with the song's audio.

The steps, each owned by another module:

1. the project (validated by `gendisco.project`) and the song's analysis (`gendisco.audio`),
2. a plan: every clip's frames and their interpolation positions (`gendisco.schedule`),
   named by a hash of everything that decides its pixels (`plan`),
3. the frames of the clips that do not exist yet (`gendisco.models`), streamed through
   bounded queues into encoder threads, several clips at once (`clips`, with
   `gendisco.encoders`),
4. the clips joined into `final.mp4` with the audio, and the `render.json` manifest (`run`,
   which also holds the output folder's lock and reports progress).

The package is `rendering`, not `render`, so that `gendisco.render` stays the function
however often it is looked up.
"""

from gendisco.rendering.clips import PipelineSpec, render_clip, render_clips
from gendisco.rendering.plan import (
    CHUNK_FRAMES,
    CLIP_FORMAT_VERSION,
    DRAFT_FOLDER,
    DRAFT_FPS,
    ClipPlan,
    RenderPlan,
    draft_project,
    laid_out_intervals,
    pixel_settings,
    plan_render,
    snap_intervals,
)
from gendisco.rendering.run import (
    IntervalReport,
    RenderProgress,
    RenderResult,
    check_output_writable,
    render,
)

__all__ = [
    "CHUNK_FRAMES",
    "CLIP_FORMAT_VERSION",
    "DRAFT_FOLDER",
    "DRAFT_FPS",
    "ClipPlan",
    "IntervalReport",
    "PipelineSpec",
    "RenderPlan",
    "RenderProgress",
    "RenderResult",
    "check_output_writable",
    "draft_project",
    "laid_out_intervals",
    "pixel_settings",
    "plan_render",
    "render",
    "render_clip",
    "render_clips",
    "snap_intervals",
]
