"""`gendisco render`: the command, its progress bar and its status lines."""

from __future__ import annotations

import shlex
import sys
import time
from typing import Annotated, Any, Literal

import typer

from gendisco import wording
from gendisco.cli.conventions import ProjectArg, app, handles_errors, stderr


@app.command(epilog="Example: gendisco render projects/demo/demo.yaml --interval 2")
@handles_errors
def render(
    project: ProjectArg,
    interval: Annotated[
        list[int] | None, typer.Option(help="Render only this interval (0-based); repeatable.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Override the project's model.")] = None,
    device: Annotated[str | None, typer.Option(help="cuda, cuda:1, mps or cpu.")] = None,
    frames: Annotated[
        bool, typer.Option("--frames", help="Also write lossless PNG frames to output/frames/.")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Frames per batch (default: from free memory).")
    ] = None,
    encoders: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Clips encoded at once while the model makes the next frames (default: as "
            "many as keep up with the model, as the cores allow).",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    dtype: Annotated[
        Literal["fp16", "bf16", "fp32"] | None,
        typer.Option(help="Precision (default: fp16 on CUDA and MPS, else fp32)."),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout (not the path).")
    ] = False,
    draft: Annotated[
        bool,
        typer.Option(
            "--draft",
            help="A quick look: small frames (128 px on the long side; 256 with --model), "
            "8 fps, the built-in tiny model unless --model is given; written to OUTPUT/draft/, "
            "apart from the real clips.",
        ),
    ] = False,
    compile_model: Annotated[
        Literal["off", "default", "reduce-overhead", "max-autotune"] | None,
        typer.Option(
            "--compile",
            metavar="[MODE]",
            help="torch.compile the model (bare: the default mode; reduce-overhead and "
            "max-autotune add CUDA graphs): a minute or more of compiling before the first "
            "frame, then faster on a GPU. Pays off on long renders.",
        ),
    ] = None,
    speed: Annotated[
        list[str] | None,
        typer.Option(
            "--speed",
            metavar="KEY=VALUE",
            help="Override one of the project's speed settings for this run, e.g. "
            "--speed fused_qkv=on --speed feature_reuse=2 (see `speed` in the README); "
            "repeatable.",
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="If another render is writing into the same output folder, wait for it to "
            "finish instead of stopping with an error.",
        ),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Render on Ray (pip install 'gendisco[ray]'): alone, a Ray started on this "
            "machine with every GPU (else CPU workers); or a cluster: auto, ray://host:10001.",
        ),
    ] = None,
) -> None:
    """Render a project: one cached clip per interval, then final.mp4 with the song's audio.

    Unchanged intervals are never rendered twice; an interrupted render resumes where it
    stopped. Intervals are numbered from 0, as in `gendisco validate`'s messages. Prints
    the path of final.mp4 on stdout (or the --json summary); status goes to stderr.
    """
    import json
    import signal

    from gendisco.errors import ModelNotDownloaded
    from gendisco.rendering import render as render_project

    source: Any = project
    if draft or speed:
        from gendisco.project import load_project

        source = load_project(project)
    if speed:
        from gendisco.speed import with_overrides

        source = source.model_copy(update={"speed": with_overrides(source.speed, speed)})
    if draft:
        from gendisco.rendering import draft_project

        source, model = draft_project(source, model=model), None

    stop_requested = False

    def stop(signum, frame) -> None:
        # Ctrl-C and a polite kill (SIGTERM) both stop the render: partial files removed,
        # clips kept. A KeyboardInterrupt that lands while Python runs a finalizer is
        # swallowed ("Exception ignored in ..."), so the request is also remembered and
        # raised again at the next progress report, at the latest after one more batch.
        nonlocal stop_requested
        stop_requested = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    with RenderProgressBar(enabled=not quiet) as bar:

        def progress(event) -> None:
            if stop_requested:
                raise KeyboardInterrupt
            bar.update(event)

        try:
            result = render_project(
                source,
                intervals=interval,
                model=model,
                device=device,
                dtype=dtype,
                batch_size=batch_size,
                write_frames=frames,
                progress=progress,
                ray_address=ray,
                compile=compile_model or False,
                wait=wait,
                encoders=encoders,
            )
        except ModelNotDownloaded as error:
            if draft:
                raise
            # The usual first render on a machine without the model: the draft needs none.
            raise ModelNotDownloaded(
                f"{error}; for a quick look at the timing meanwhile: `gendisco render "
                f"{project} --draft` (the built-in tiny model, offline)"
            ) from None
        except KeyboardInterrupt:
            bar.close()
            argv = sys.argv[1:] if sys.argv[1:2] == ["render"] else ["render", str(project)]
            stderr.print(interrupted_message(bar.plan, argv), markup=False)
            raise typer.Exit(130) from None
    for warning in result.warnings:
        if warning not in bar.warned:  # the rest were said when they were found
            stderr.print(f"warning: {warning}", markup=False)
    if not quiet:
        stderr.print(render_summary(result), markup=False)
    if json_out:
        typer.echo(json.dumps(result.summary(), indent=2))
    elif result.final_path is not None:
        typer.echo(str(result.final_path))


def render_summary(result) -> str:
    """One status line: what the video holds and what this run did."""
    states = [report.state for report in result.intervals]
    parts = [
        f"{states.count(state)} {word}"
        for state, word in (
            ("rendered", "rendered"),
            ("cached", "cached"),
            ("missing", "not rendered (--interval)"),
        )
        if state in states
    ]
    where = result.final_path or result.manifest_path.parent
    speed = f" ({result.frames_per_second:.2f} frames/s)" if result.frames_rendered else ""
    return (
        f"{where}: {wording.count(result.frames_total, 'frame')}, "
        f"{result.frames_rendered} made in this run{speed}; "
        f"{wording.count(len(states), 'interval')}: {', '.join(parts)}; {result.seconds:.1f} s"
    )


class RenderProgressBar:
    """Status lines and a rich progress bar on stderr, fed by the renderer's callback.

    Prints the plan (frames to make, clips cached) before the first frame, and an estimate
    from the speed of the first batch once it is done; the bar's eta follows the speed from
    there. The bar starts with the first frame, so a render that fails before it leaves no
    empty bar (and no blank line) above its error.
    """

    def __init__(self, *, enabled: bool):
        self.enabled = enabled
        self.plan = None  # the "plan" event, for the Ctrl-C summary
        self.warned: set[str] = set()  # warnings already printed, even with --quiet
        self._progress = None
        self._task = None
        self._render_started: float | None = None
        self._estimated = False

    def __enter__(self) -> RenderProgressBar:
        return self

    def _start_bar(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=stderr,
            transient=False,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("render", total=total, rate="", start=True)

    def update(self, event) -> None:
        if event.stage == "plan":
            self.plan = event
        if event.stage == "warn":
            self.warned.add(event.message)
            stderr.print(f"warning: {event.message}", markup=False)
        if not self.enabled:
            return
        if event.stage == "wait":
            stderr.print(f"waiting: {event.message}", markup=False)
        elif event.stage == "plan":
            stderr.print(f"plan: {describe_plan(event)}", markup=False)
        elif event.stage in ("analyze", "load", "stitch"):
            stderr.print(f"{event.stage}: {event.message}", markup=False)
        elif event.stage == "render":
            self._render(event)

    def _render(self, event) -> None:
        now = time.perf_counter()
        if self._render_started is None:
            self._render_started = now
        if self._progress is None:
            self._start_bar(event.frames_total)
        elif event.frames_done and not self._estimated:
            self._estimated = True
            rate = event.frames_done / max(now - self._render_started, 1e-9)
            left = event.frames_total - event.frames_done
            if left > 0:
                stderr.print(
                    f"estimate: {wording.duration(left / rate)} more for {left} frames at "
                    f"{rate:.2f} frames/s (the speed of the first batch)",
                    markup=False,
                )
        task = self._progress.tasks[self._task]
        speed = task.speed
        self._progress.update(
            self._task,
            completed=event.frames_done,
            description=(
                f"interval {event.interval}" if event.interval is not None else event.message
            ),
            rate=f"{speed:.2f} frames/s" if speed else "",
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
            self._progress = None

    def __exit__(self, *exc) -> None:
        self.close()


def describe_plan(plan) -> str:
    """`480 frames to make in 4 clips; 2 of 6 clips cached` (a "plan" progress event)."""
    total = len(plan.clip_paths)
    if not plan.clips_todo:
        return f"nothing to render; {plan.clips_cached} of {wording.count(total, 'clip')} cached"
    later = total - plan.clips_todo - plan.clips_cached
    text = (
        f"{wording.count(plan.frames_total, 'frame')} to make in "
        f"{wording.count(plan.clips_todo, 'clip')}; {plan.clips_cached} of "
        f"{wording.count(total, 'clip')} cached"
    )
    return text + (f", {later} left for later (--interval)" if later else "")


def interrupted_message(plan, argv: list[str]) -> str:
    """What Ctrl-C kept and how to go on: the same command resumes."""
    again = shlex.join(["gendisco", *argv])
    if plan is None or not plan.clip_paths:
        return f"interrupted before any frame was made; run `{again}` to start again"
    kept = sum(path.exists() for path in plan.clip_paths)
    made = kept - plan.clips_cached
    return (
        f"interrupted: {kept} of {len(plan.clip_paths)} clips done and kept ({made} made in "
        f"this run); run `{again}` again to resume"
    )
