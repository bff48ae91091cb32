"""`render`: a project to `final.mp4`, from the analysis to the manifest, with progress,
the output folder's lock, the model loading while the song is analysed, and resume."""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from gendisco import wording
from gendisco.encoders import check_encoders
from gendisco.errors import GendiscoError, UserError
from gendisco.frames import FramesRecord, write_gap_pngs
from gendisco.lock import OutputLock
from gendisco.project import Project, load_project
from gendisco.prompt_length import cut_off_warnings, resolved_places
from gendisco.rendering.clips import PipelineSpec, render_clips, render_gap
from gendisco.rendering.plan import ClipPlan, RenderPlan, plan_render
from gendisco.speed import SpeedSettings, compile_settings
from gendisco.video import (
    EncodedAudio,
    encode_song_audio,
    frame_rate,
    join_clips,
    remove_partial_files,
)


@dataclass(frozen=True)
class RenderProgress:
    """What the renderer is doing, for a progress bar.

    The "plan" stage comes once, before any frame is made: `frames_total` frames to make in
    `clips_todo` clips, `clips_cached` of the `clip_paths` already on disk. A "warn" event
    carries one warning in `message` as soon as it is known (the plan's after the plan, a
    prompt the model cuts off after the load), so a long render does not keep it to the
    end; the result lists every warning again.
    """

    stage: Literal["wait", "analyze", "plan", "warn", "load", "render", "stitch", "done"]
    interval: int | None = None
    frames_done: int = 0  # frames generated so far in this run
    frames_total: int = 0  # frames this run generates
    message: str = ""
    clips_todo: int = 0
    clips_cached: int = 0
    clip_paths: tuple[Path, ...] = ()  # every interval clip of the video


@dataclass
class IntervalReport:
    index: int
    start_s: float
    end_s: float
    frames: int
    clips: list[str]  # the interval's clip files on disk after the run
    cached: bool  # every clip was on disk before the run
    seconds: float = 0.0
    workers: list[str] = field(default_factory=list)  # pid@host per clip, on Ray
    missing: int = 0  # clips not on disk (left out with --interval)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def state(self) -> Literal["cached", "rendered", "missing"]:
        if self.missing:
            return "missing"
        return "cached" if self.cached else "rendered"


@dataclass
class RenderResult:
    final_path: Path | None  # None when some intervals were left unrendered (--interval)
    manifest_path: Path
    clips: list[Path]
    frames_total: int  # frames in the final video
    frames_rendered: int  # frames generated in this run (0 when everything was cached)
    seconds: float
    frames_per_second: float  # generated frames per second of generation
    intervals: list[IntervalReport]
    warnings: list[str]

    def summary(self) -> dict[str, Any]:
        return {
            "final": str(self.final_path) if self.final_path else None,
            "manifest": str(self.manifest_path),
            "frames_total": self.frames_total,
            "frames_rendered": self.frames_rendered,
            "seconds": round(self.seconds, 3),
            "frames_per_second": round(self.frames_per_second, 3),
            "intervals": [
                {
                    "index": report.index,
                    "start": report.start_s,
                    "end": report.end_s,
                    "frames": report.frames,
                    "state": report.state,
                    "cached": report.cached,
                    "seconds": round(report.seconds, 3),
                    "frames_per_second": round(report.frames_per_second, 3),
                    "clips": report.clips,
                    **({"workers": report.workers} if report.workers else {}),
                }
                for report in self.intervals
            ],
            "warnings": self.warnings,
        }


ProgressCallback = Callable[[RenderProgress], None]


def _ignore_progress(_: RenderProgress) -> None:
    pass


def check_output_writable(output: Path) -> None:
    try:
        (output / "clips").mkdir(parents=True, exist_ok=True)
        # A probe of its own: renders started together (one of them about to wait for the
        # lock) must not remove each other's.
        with tempfile.NamedTemporaryFile(dir=output, prefix=".gendisco-write-test-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(f"output folder {output} is not writable ({reason})") from None


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("gendisco", "torch", "diffusers", "transformers", "librosa", "av", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _write_json(path: Path, document: dict[str, Any]) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(document, indent=2, default=str) + "\n")
    partial.replace(path)


def render(
    project: Project | str | Path,
    *,
    intervals: Sequence[int] | None = None,
    model: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    write_frames: bool = False,
    progress: ProgressCallback | None = None,
    pipeline: Any = None,
    ray_address: str | None = None,
    compile: bool | str = False,
    wait: bool = False,
    encoders: int | None = None,
) -> RenderResult:
    """Render a project to `output/final.mp4`, reusing every clip that already exists.

    `intervals` limits the work to those interval indices (final.mp4 is then built only
    if every other clip already exists). `pipeline` lets a caller pass a loaded pipeline.
    `compile` (True or a mode name) overrides the compile mode of the project's `speed`
    settings (see gendisco.speed). `ray_address` renders the clips as Ray tasks: "local" (a
    Ray started on this machine), "auto" or "ray://host:port" (an existing cluster); see
    gendisco.distributed. One render at a time writes into an output folder: another
    one's raises `OutputBusy` naming its holder, or with `wait` waits for it to finish.
    `encoders` clips are encoded at once while the model makes the next frames (None: as
    many as the generator needs, up to the cores' share; see gendisco.encoders).
    """
    started = time.perf_counter()
    report = progress or _ignore_progress
    # 1. Validate everything before loading a model.
    if not isinstance(project, Project):
        project = load_project(project)
    if compile:
        project = project.model_copy(update={"speed": compile_settings(project.speed, compile)})
    if pipeline is not None:
        # a loaded pipeline runs as it was built: the clips' names follow its settings
        applied = getattr(pipeline, "gendisco_speed", None) or SpeedSettings()
        project = project.model_copy(update={"speed": applied})
    if pipeline is None:
        check_pipeline_request(
            model or project.model,
            vae=project.vae,
            device=device,
            dtype=dtype,
            on_ray=ray_address is not None,
            speed=project.speed,
        )
    check_output_writable(project.output)
    check_encoders(encoders)
    if ray_address is not None and write_frames:
        raise UserError(
            "--frames cannot be combined with --ray (the frames are made on the workers); "
            "render once without --ray to write PNG frames"
        )
    if ray_address is not None and encoders is not None:
        raise UserError("--encoders cannot be combined with --ray (each Ray task encodes its clip)")
    if ray_address is not None and pipeline is not None:
        raise UserError("a loaded pipeline cannot be sent to Ray workers; pass ray_address only")
    if ray_address is not None:
        from gendisco.distributed import import_ray

        import_ray()  # no Ray: one line on how to install it, before any work
    if intervals is not None:
        known = range(len(project.intervals))
        unknown = [index for index in intervals if index not in known]
        if unknown:
            has = wording.numbered(len(known))
            raise UserError(f"--interval {unknown[0]}: the project has {has}")

    def waiting(holder) -> None:
        who = holder.describe() if holder else "another process"
        report(RenderProgress(stage="wait", message=f"{project.output} is in use by {who}"))

    with OutputLock(project.output, wait=wait, on_wait=waiting):
        # Holding the lock, no other process writes here: partial files are abandoned.
        remove_partial_files(project.output / "clips")
        remove_partial_files(project.output / "frames")
        remove_partial_files(project.output)
        return _render_locked(
            project,
            intervals=intervals,
            model=model,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            write_frames=write_frames,
            report=report,
            pipeline=pipeline,
            ray_address=ray_address,
            encoders=encoders,
            started=started,
        )


def check_pipeline_request(
    model: str,
    *,
    vae: str,
    device: str | None,
    dtype: str | None,
    on_ray: bool,
    speed: SpeedSettings | None = None,
) -> None:
    """The model, device and dtype, checked before the song is analysed: a typo, a missing
    download or a missing GPU fails in a second instead of after the analysis and the load.

    On Ray the workers load the model and own the devices, so only the name is checked.
    """
    from gendisco.model_check import check_model, locate_model

    if on_ray:
        locate_model(model)
        return
    check_model(model, vae=vae)
    if device is not None or dtype is not None or (speed is not None and speed.fp8):
        from gendisco.models import resolve_device, resolve_dtype
        from gendisco.models.speed import check_speed

        resolved = resolve_device(device)
        resolve_dtype(dtype, resolved)
        if speed is not None:
            check_speed(speed, resolved)


def _render_locked(
    project: Project,
    *,
    intervals: Sequence[int] | None,
    model: str | None,
    device: str | None,
    dtype: str | None,
    batch_size: int | None,
    write_frames: bool,
    report: ProgressCallback,
    pipeline: Any,
    ray_address: str | None,
    encoders: int | None,
    started: float,
) -> RenderResult:
    """Steps 2-7 of `render`, run while holding the output folder's lock."""
    # 2. Analyse the song (cached per file content). A song analysed for the first time is
    # a new song, whose clips are all to make: the model loads meanwhile.
    spec = PipelineSpec(
        model or project.model, device, dtype, project.vae, project.scheduler, project.speed
    )
    from gendisco.audio import analyze, is_cached

    loading = None
    if pipeline is None and ray_address is None and not is_cached(project.song):
        _import_analysis_dependencies()
        loading = Background("gendisco-load", spec.load)
    report(RenderProgress(stage="analyze", message=f"analysing {project.song.name}"))
    analysis = analyze(project.song)

    # 3. Plan every clip; a full render encodes the song's audio track meanwhile.
    plan = plan_render(project, analysis, model=model)
    audio = None
    if intervals is None:
        audio = Background(
            "gendisco-audio",
            encode_song_audio,
            project.song,
            start_s=plan.first_frame / project.fps,
            duration_s=plan.frame_count / frame_rate(project.fps),
        )
    frames_dir = project.output / "frames" if write_frames else None
    frames_record = None
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)
        frames_record = FramesRecord(frames_dir)
    wanted = set(intervals) if intervals is not None else None

    def needs_render(clip: ClipPlan) -> bool:
        if clip.kind != "interval" or (wanted is not None and clip.interval not in wanted):
            return False
        if not clip.path.exists():
            return True
        return frames_record is not None and not frames_record.current(clip)

    todo = [clip for clip in plan.clips if needs_render(clip)]
    if frames_record is not None:
        making = {clip.path for clip in todo}
        frames_record.adopt(
            c
            for c in plan.clips
            if c.kind == "interval" and c.path.exists() and c.path not in making
        )
    frames_total = sum(clip.frame_count for clip in todo)
    report(_plan_progress(plan, todo, frames_total))
    for warning in [*plan.gap_warnings, *plan.warnings]:
        report(RenderProgress(stage="warn", message=warning))

    # 4. Render what is missing; the model is loaded only if something is.
    reports = {
        interval.index: IntervalReport(
            index=interval.index,
            start_s=interval.start_s,
            end_s=interval.end_s,
            frames=0,
            clips=[],
            cached=True,
        )
        for interval in plan.intervals
    }
    for clip in plan.clips:
        if clip.kind == "interval":
            reports[clip.interval].frames += clip.frame_count
    device_description: dict[str, Any] = {}
    frames_done = 0
    generation_seconds = 0.0

    def progressed(frames: int, interval: int | None = None, message: str = "") -> None:
        nonlocal frames_done
        frames_done = frames
        report(
            RenderProgress(
                stage="render",
                interval=interval,
                frames_done=frames_done,
                frames_total=frames_total,
                message=message,
            )
        )

    if todo and ray_address is not None:
        from gendisco.distributed import render_on_ray

        def clip_done(clip: ClipPlan, result) -> None:
            reports[clip.interval].cached = False
            reports[clip.interval].seconds += result.seconds
            reports[clip.interval].workers.append(result.worker)

        ray_started = time.perf_counter()
        device_description = render_on_ray(
            todo,
            project,
            spec,
            address=ray_address,
            batch_size=batch_size,
            on_progress=lambda frames, message: progressed(frames, message=message),
            on_clip_done=clip_done,
        )
        generation_seconds = time.perf_counter() - ray_started
    elif todo:
        if pipeline is None:
            report(RenderProgress(stage="load", frames_total=frames_total, message=plan.model))
            pipeline = loading.result() if loading is not None else spec.load()
        device_description = _describe(pipeline)
        for warning in _cut_prompts(pipeline, plan, todo):
            plan.warnings.append(warning)
            report(RenderProgress(stage="warn", message=warning))  # before the first frame
        for clip in todo:
            reports[clip.interval].cached = False
        progressed(0, todo[0].interval)

        def made(clip: ClipPlan, count: int, seconds: float) -> None:
            reports[clip.interval].seconds += seconds
            progressed(frames_done + count, clip.interval)

        if frames_record is not None:
            frames_record.release(todo)  # their PNGs are about to be overwritten
        generation_started = time.perf_counter()
        render_clips(
            pipeline,
            todo,
            project,
            batch_size=batch_size,
            frames_dir=frames_dir,
            encoders=encoders,
            on_frames=made,
            on_pngs_written=frames_record.made if frames_record is not None else None,
        )
        generation_seconds = time.perf_counter() - generation_started

    # 5. Fill gaps between intervals by holding the previous interval's last frame.
    for clip in plan.clips:
        if clip.kind != "gap" or not clip.source.exists():
            continue
        if not clip.path.exists():
            render_gap(clip, project)
        if frames_dir is not None:
            write_gap_pngs(frames_dir, clip.first_frame, clip.frame_count)

    # What is on disk now: a clip left for later (--interval) is neither cached nor listed.
    for clip in plan.clips:
        if clip.kind == "interval":
            if clip.path.exists():
                reports[clip.interval].clips.append(clip.path.name)
            else:
                reports[clip.interval].missing += 1
                reports[clip.interval].cached = False

    # 6. Join the clips into final.mp4 with the song's audio.
    final_path: Path | None = None
    missing = [clip for clip in plan.clips if not clip.path.exists()]
    if not missing:
        report(RenderProgress(stage="stitch", message="final.mp4"))
        final_path = project.output / "final.mp4"
        join_clips(
            [clip.path for clip in plan.clips],
            final_path,
            fps=project.fps,
            song=project.song,
            start_s=plan.first_frame / project.fps,
            audio=_encoded_audio(audio),
        )
        if frames_record is not None and intervals is None:  # the sequence is whole
            interval_clips = [clip for clip in plan.clips if clip.kind == "interval"]
            frames_record.keep_only(interval_clips, plan.first_frame, plan.frame_count)
    else:
        left = len({c.interval for c in missing})
        plan.warnings.append(
            f"final.mp4 not built: {wording.count(left, 'interval')} "
            f"{'is' if left == 1 else 'are'} not rendered yet; render without --interval "
            "to finish the video"
        )

    if loading is not None and pipeline is None:
        loading.wait()  # every clip was on disk after all: the unused load ends here
    # 7. The manifest.
    seconds = time.perf_counter() - started
    result = RenderResult(
        final_path=final_path,
        manifest_path=project.output / "render.json",
        clips=[clip.path for clip in plan.clips if clip.path.exists()],
        frames_total=plan.frame_count,
        frames_rendered=frames_done,
        seconds=seconds,
        frames_per_second=frames_done / generation_seconds if generation_seconds else 0.0,
        intervals=list(reports.values()),
        warnings=[*plan.gap_warnings, *plan.warnings],
    )
    _write_json(
        result.manifest_path,
        {
            "project": project.model_dump(mode="json", by_alias=True),
            "model": plan.model,
            "device": device_description,
            "versions": _versions(),
            "command": sys.argv,
            "frames": {"first": plan.first_frame, "stop": plan.stop_frame},
            **result.summary(),
        },
    )
    report(RenderProgress(stage="done", frames_done=frames_done, frames_total=frames_total))
    return result


def _import_analysis_dependencies() -> None:
    """Import what the analysis needs before the model loads in another thread: both import
    SciPy, and two threads importing modules of one package at once can meet in a circular
    import and see a half-initialised module."""
    import scipy.fft  # noqa: F401
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401


def _encoded_audio(audio: Background | None) -> EncodedAudio | None:
    """The audio encoded ahead, or None when it failed: the join encodes it again and
    reports the failure in the join's words."""
    if audio is None:
        return None
    try:
        return audio.result()
    except GendiscoError:
        return None


class Background:
    """`function(*args, **kwargs)` running in a daemon thread, so Ctrl-C never waits for it;
    `result()` waits for its value or raises its exception."""

    def __init__(self, name: str, function: Callable[..., Any], *args: Any, **kwargs: Any):
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = function(*args, **kwargs)
            except BaseException as error:  # handed to the caller by result()
                self._error = error

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def wait(self) -> None:
        while self._thread.is_alive():
            self._thread.join(timeout=0.1)  # short joins keep Ctrl-C responsive

    def result(self) -> Any:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value


def _plan_progress(plan: RenderPlan, todo: list[ClipPlan], frames_total: int) -> RenderProgress:
    todo_paths = {clip.path for clip in todo}
    interval_clips = [clip for clip in plan.clips if clip.kind == "interval"]
    cached = [c for c in interval_clips if c.path not in todo_paths and c.path.exists()]
    return RenderProgress(
        stage="plan",
        frames_total=frames_total,
        clips_todo=len(todo),
        clips_cached=len(cached),
        clip_paths=tuple(clip.path for clip in interval_clips),
        message=f"{frames_total} frames to make",
    )


def _cut_prompts(pipeline: Any, plan: RenderPlan, todo: list[ClipPlan]) -> list[str]:
    """Warnings for the prompts of the intervals being rendered that the pipeline's
    tokenizer cuts off (counted exactly, where `validate` can only bound the count)."""
    from gendisco.models.generate import uses_guidance

    rendered = {clip.interval for clip in todo}
    project = plan.project
    negative = project.negative if uses_guidance(pipeline, project.guidance) else ""
    places = resolved_places([i for i in plan.intervals if i.index in rendered], negative)
    return cut_off_warnings(pipeline, places)


def _describe(pipeline: Any) -> dict[str, Any]:
    try:
        from gendisco.models import describe_pipeline
    except ImportError:
        return {}
    try:
        return describe_pipeline(pipeline)
    except GendiscoError:
        return {}
