"""The `gendisco` command line: parse options, call one library function, map errors.

Results go to stdout, status and progress to stderr. Exit codes (DESIGN.md): 0 done,
1 failure outside the user's control, 2 user mistake, 130 interrupted. Heavy libraries
(torch, diffusers, librosa) are imported inside the commands that need them, so
`gendisco validate` and `gendisco schema` answer instantly.
"""

from __future__ import annotations

import functools
import gc
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import typer
from rich.console import Console
from typer import _click as click  # the click that typer vendors (typer >= 0.29)
from typer.core import TyperArgument, TyperGroup, TyperOption

from gendisco import wording
from gendisco.errors import GendiscoError

# `gendisco --help` lists the commands in the order of a day's work; others follow.
DAY_ORDER = ("init", "analyze", "brainstorm", "preview", "validate", "render", "schema", "clean")


class _PlainArgument(TyperArgument):
    """An argument shown as `PROJECT` in usage and help (not `{project}` / `project <file>`)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None


def _metavar(option: TyperOption) -> str:
    """What an option's value looks like in --help: its choices, N, NUMBER, PATH or NAME."""
    described = option.type_descriptor
    kind = get_args(described.annotation)[0] if described.is_list else described.annotation
    if described.is_choice:
        return "[" + "|".join(str(choice) for choice in described.choices) + "]"
    if kind is int:
        return "N"
    if kind is float:
        return "NUMBER"
    if described.is_path:
        return "PATH"
    return (option.name or "value").upper()


class _Commands(TyperGroup):
    """The command group: commands in DAY_ORDER, values shown as plain upper-case names."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(DAY_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        for param in command.params if command is not None else ():
            if type(param) is TyperArgument:
                param.__class__ = _PlainArgument
                param.metavar = param.metavar or (param.name or "value").upper()
            elif isinstance(param, TyperOption) and param.metavar is None and not param.is_flag:
                param.metavar = _metavar(param)
        return command


app = typer.Typer(
    name="gendisco",
    cls=_Commands,
    help="Turn a song into an audio-reactive music video with text-to-image diffusion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gendisco")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gendisco {_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Turn a song into an audio-reactive music video with text-to-image diffusion."""


F = TypeVar("F", bound=Callable[..., Any])


def _fail(lines: list[str], code: int) -> None:
    for line in lines:
        stderr.print(f"error: {line}", markup=False)
    raise typer.Exit(code)


def handles_errors(command: F) -> F:
    """Turn library errors into one line per problem and the documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = os.environ.get("GENDISCO_DEBUG", "") not in ("", "0")
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except GendiscoError as error:
            if debug:
                raise
            _fail(error.lines(), error.exit_code)
        except KeyboardInterrupt:
            if debug:
                raise
            stderr.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except Exception as error:  # anything unexpected: one line, traceback on request
            if debug:
                raise
            _fail(
                [
                    f"unexpected {type(error).__name__}: {error}",
                    "set GENDISCO_DEBUG=1 to see the traceback",
                ],
                1,
            )

    return wrapper  # type: ignore[return-value]


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


def _not_available(command: str) -> None:
    raise GendiscoError(f"`gendisco {command}` is not available in this build")


# A folder is reported by load_project, in the product's words
ProjectArg = Annotated[Path, typer.Argument(help="Project file (YAML).", show_default=False)]


@app.command(epilog="Example: gendisco validate projects/demo/demo.yaml")
@handles_errors
def validate(project: ProjectArg) -> None:
    """Check a project file and report every problem at once, one line each.

    Prints one `ok` line on stdout when the project is valid (warnings, such as gaps
    between intervals or a model not downloaded yet, go to stderr); otherwise one `error:`
    line per problem and exit 2.
    """
    from gendisco.model_check import model_warnings
    from gendisco.project import format_time, load_project

    loaded = load_project(project)
    warnings = [*loaded.warnings, *model_warnings(loaded.model, vae=loaded.vae)]
    if loaded.model == "tiny":
        from gendisco.project import prompt_places
        from gendisco.tinymodel.vocabulary import prompt_warnings

        warnings += prompt_warnings(prompt_places(loaded))
    for warning in warnings:
        stderr.print(f"warning: {project}: {warning}", markup=False)
    intervals = wording.count(len(loaded.intervals), "interval")
    span = f"{format_time(loaded.intervals[0].start)}-{format_time(loaded.intervals[-1].end)}"
    typer.echo(f"{project}: ok ({intervals}, {span}, model {loaded.model})")


@app.command(epilog="Example: gendisco schema > gendisco.schema.json")
@handles_errors
def schema() -> None:
    """Print the JSON Schema of the project format (for editors and the YAML language server).

    Project files can point at it with a comment such as
    `# yaml-language-server: $schema=../../src/gendisco/project.schema.json`.
    """
    from gendisco.project import schema_json

    sys.stdout.write(schema_json())


@app.command(epilog="Example: gendisco analyze song.mp3 --plot analysis.png")
@handles_errors
def analyze(
    source: Annotated[Path, typer.Argument(help="A song, or a project file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    plot: Annotated[
        str | None,
        typer.Option(
            help="Draw waveform, beats, sections, local tempo and warp curves to this PNG "
            "(a folder gets analysis.png inside it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show a song's tempo, tempo changes, beats, downbeats and sections.

    SOURCE is a song (mp3, m4a, ogg, opus, flac, wav) or a project file, whose song is
    analysed; with a project, --plot also draws its intervals and their warp curves.
    Results are cached per file content, so a second run is instant.
    """
    import json

    from gendisco import audio

    project = None
    if source.suffix.lower() in (".yaml", ".yml"):
        from gendisco.project import load_project

        project = load_project(source)
        song = project.song
    else:
        song = source
    if not audio.is_cached(song):
        audio.probe_duration(song)  # an unreadable file fails here, before any status line
        stderr.print(f"analysing {song}", markup=False)
    result = audio.analyze(song)
    segments = [
        {"start": round(s.start_s, 3), "end": round(s.end_s, 3), "bpm": round(s.bpm, 2)}
        for s in result.tempo_segments
    ]
    if json_out:
        summary = {
            "duration": round(result.duration_s, 3),
            "tempo": round(result.tempo_bpm, 2),
            "tempo_segments": segments,
            "beats": [round(float(t), 3) for t in result.beat_times_s],
            "downbeats": [round(float(t), 3) for t in result.downbeat_times_s],
            "sections": [round(float(t), 3) for t in result.section_times_s],
        }
        typer.echo(json.dumps(summary))
    else:
        from rich.table import Table

        def clock(seconds: float) -> str:
            return f"{int(seconds // 60)}:{seconds % 60:04.1f}"

        console = Console(highlight=False, soft_wrap=True)
        console.print(str(song), markup=False)  # on its own line: a long path never wraps
        table = Table(show_header=False)
        table.add_row("duration", clock(result.duration_s))
        table.add_row("tempo", f"{result.tempo_bpm:.1f} BPM" if result.tempo_bpm else "none")
        if len(segments) > 1:
            changes = "  ".join(f"{clock(s['start'])} {s['bpm']:.1f}" for s in segments)
            table.add_row("tempo changes", f"{changes} BPM")
        table.add_row("beats", str(result.beat_times_s.size))
        table.add_row("downbeats", str(result.downbeat_times_s.size))
        table.add_row("sections", "  ".join(clock(t) for t in result.section_times_s))
        console.print(table)
    if plot is not None:
        curves = []
        if project is not None:
            from gendisco import schedule
            from gendisco.project import resolve_intervals

            for item in resolve_intervals(project):
                span = dict(start_s=item.start_s, end_s=item.end_s, fps=project.fps)
                if item.kind == "hold":
                    # the pulse normalised to 0..1 so holds and transitions share one axis
                    mix, _ = schedule.hold_curves(result, **span, pulse=1.0, zoom=item.zoom)
                    label = f"{item.index}: hold"
                else:
                    mix = schedule.transition_positions(
                        result, **span, warp=item.warp, reactivity=item.reactivity
                    )
                    label = f"{item.index}: {item.transition} ({item.warp})"
                first, stop = schedule.frame_span(item.start_s, item.end_s, project.fps)
                curves.append((label, schedule.frame_times(first, stop, project.fps), mix))
        written = audio.plot_analysis(song, result, plot, intervals=curves)
        stderr.print(f"wrote {written}", markup=False)


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
        except KeyboardInterrupt:
            bar.close()
            argv = sys.argv[1:] if sys.argv[1:2] == ["render"] else ["render", str(project)]
            stderr.print(interrupted_message(bar.plan, argv), markup=False)
            raise typer.Exit(130) from None
    for warning in result.warnings:
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


@app.command(epilog="Example: gendisco clean projects/demo/demo.yaml --dry-run")
@handles_errors
def clean(
    project: ProjectArg,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be removed.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(help="Keep the clips of `render --model MODEL` instead of the project's."),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="If a render is writing into the output folder, wait."),
    ] = False,
) -> None:
    """Remove the clips the project no longer uses, and say how much space that frees.

    Every edit renames the clips it changes, so old ones pile up in OUTPUT/clips/. The
    clips `gendisco render` (and `--draft`) of the project as it is now would use are never
    touched; nor is anything else in the folder. Removed files are listed on stdout. Holds
    the output folder's lock, so it never runs while a render writes there.
    """
    from gendisco.clean import clean_project

    def waiting(holder) -> None:
        who = holder.describe() if holder else "another process"
        stderr.print(f"waiting: the output folder is in use by {who}", markup=False)

    def status(message: str) -> None:
        stderr.print(message, markup=False)

    result = clean_project(
        project, model=model, dry_run=dry_run, wait=wait, on_wait=waiting, status=status
    )
    for path in result.removed:
        typer.echo(str(path))
    removed, kept = wording.count(len(result.removed), "file"), len(result.kept)
    in_use = f"{wording.count(kept, 'clip')} in use kept"
    if dry_run:
        status(
            f"would remove {removed} ({wording.size(result.bytes_freed)}); {in_use}; "
            "run without --dry-run to remove them"
            if result.removed
            else f"nothing to remove; {in_use}"
        )
    else:
        status(
            f"removed {removed}, freed {wording.size(result.bytes_freed)}; {in_use}"
            if result.removed
            else f"nothing to remove; {in_use}"
        )


PREVIEW_MODEL = "stabilityai/sd-turbo"


def check_model_first(model: str, *, vae: str = "default", default_from: str = "") -> None:
    """Fail in a second, before any frame, when the model cannot be loaded from here.

    `default_from` says where a model the user did not name came from ("preview's default"),
    so the one error line can say so and point at the built-in model that needs no download.
    """
    from gendisco.errors import ModelError
    from gendisco.model_check import check_model

    try:
        check_model(model, vae=vae, role=default_from)
    except ModelError as error:
        if not default_from:
            raise
        raise type(error)(
            f"{error}; or try `--model tiny` (built in, works offline: a small model of simple "
            "scenes, for checking timing and motion)"
        ) from None


@app.command(
    epilog='Example: gendisco preview "neon city skyline at night" --seeds 8 --out sheet.png  '
    "(or: gendisco preview projects/demo/demo.yaml --interval 2)"
)
@handles_errors
def preview(
    prompt: Annotated[
        str, typer.Argument(help="A prompt, or a project file (.yaml) to show its keyframes.")
    ],
    seeds: Annotated[int, typer.Option(min=1, max=64, help="How many seeds to try.")] = 8,
    first_seed: Annotated[int, typer.Option(min=0, help="The first seed of the sheet.")] = 0,
    interval: Annotated[
        list[int] | None,
        typer.Option(help="With a project: this interval's keyframes (0-based; repeatable)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help=f"Model (default: the project's, or {PREVIEW_MODEL}; tiny = offline)."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cuda, cuda:1, mps or cpu.")] = None,
    width: Annotated[
        int | None, typer.Option(min=64, max=4096, help="Tile width (default: project's or 512).")
    ] = None,
    height: Annotated[
        int | None, typer.Option(min=64, max=4096, help="Tile height (default: project's or 512).")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(min=1, max=200, help="Denoising steps (default: project's or 2).")
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(min=0, help="Guidance scale; > 1 turns it on (default 0).")
    ] = None,
    negative: Annotated[
        str, typer.Option(metavar="TEXT", help="Negative prompt (used when guidance > 1).")
    ] = "",
    scheduler: Annotated[
        str | None, typer.Option(help="Scheduler short name (default: project's or euler).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Tiles per batch (default: from free memory).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the PNG.")] = Path("preview.png"),
    speed: Annotated[
        list[str] | None,
        typer.Option(
            "--speed",
            metavar="KEY=VALUE",
            help="A speed setting for this sheet, over the project's (see `speed` in the "
            "README); repeatable.",
        ),
    ] = None,
) -> None:
    """Make a contact sheet of a prompt over several seeds, or a project's keyframes.

    With a prompt: one tile per seed, each labelled with its seed (same prompt and seeds,
    same sheet). With a project file: the start and end keyframes of each interval (or of
    --interval), side by side, rendered with the project's model and settings.
    """
    from gendisco.errors import UserError
    from gendisco.preview import check_sheet_path
    from gendisco.speed import SpeedSettings, with_overrides

    check_sheet_path(out)
    with_overrides(SpeedSettings(), speed or [])  # a typo fails before any model is loaded
    project_mode = Path(prompt).suffix.lower() in (".yaml", ".yml")
    if interval and not project_mode:
        raise UserError("--interval needs a project file (.yaml) instead of a prompt")
    if project_mode:
        from gendisco.project import load_project

        path = Path(prompt)
        if not path.is_file():
            raise UserError(f"{path}: project file not found")
        project = load_project(path, check_song=False)
        chosen_model = model or project.model
        check_model_first(
            chosen_model, vae=project.vae, default_from="" if model else "the project's model"
        )
        stderr.print(f"loading {chosen_model}", markup=False)
        from gendisco.models import load_pipeline
        from gendisco.preview import interval_sheet, save_sheet

        pipe = load_pipeline(
            chosen_model,
            device=device,
            vae=project.vae,
            scheduler=scheduler or project.scheduler,
            speed=with_overrides(project.speed, speed or []),
        )
        sheet = interval_sheet(
            pipe,
            project,
            interval or None,
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
            batch_size=batch_size,
        )
    else:
        if not prompt.strip():
            raise UserError("the prompt is empty")
        chosen_model = model or PREVIEW_MODEL
        check_model_first(chosen_model, default_from="" if model else "preview's default")
        stderr.print(f"loading {chosen_model}", markup=False)
        from gendisco.models import load_pipeline
        from gendisco.preview import save_sheet, seed_sheet

        pipe = load_pipeline(
            chosen_model,
            device=device,
            scheduler=scheduler or "euler",
            speed=with_overrides(SpeedSettings(), speed or []),
        )
        sheet = seed_sheet(
            pipe,
            prompt,
            range(first_seed, first_seed + seeds),
            width=width or 512,
            height=height or 512,
            steps=steps or 2,
            guidance=0.0 if guidance is None else guidance,
            negative=negative,
            batch_size=batch_size,
        )
    written = save_sheet(sheet, out)
    stderr.print(f"wrote {len(sheet.labels)} tiles", markup=False)
    typer.echo(str(written))


BRAINSTORM_PNG = Path("brainstorm.png")


@app.command(
    epilog='Example: gendisco brainstorm "late-summer heartbreak pop song" > ideas.yaml  '
    '(or: gendisco brainstorm --transitions "a city skyline at dusk" --offline)'
)
@handles_errors
def brainstorm(
    goal: Annotated[
        str,
        typer.Argument(
            metavar="GOAL", help="A song and artist, a lyric or a mood.", show_default=False
        ),
    ] = "",
    transitions: Annotated[
        str | None,
        typer.Option(
            "--transitions",
            metavar="PROMPT",
            help="Propose an end prompt for each transition kind (color, time, subject, style) "
            "starting from PROMPT.",
        ),
    ] = None,
    variations: Annotated[
        str | None,
        typer.Option(
            "--variations",
            metavar="PROMPT",
            help="Reword PROMPT, keeping its meaning (for holds).",
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(min=1, max=50, help="How many prompts (default 6) or variations (default 4)."),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the built-in videography vocabulary, no LLM.")
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option(
            min=0, help="Same seed, same ideas (offline always; an LLM where its server allows)."
        ),
    ] = None,
    llm_model: Annotated[
        str, typer.Option("--llm-model", envvar="GENDISCO_LLM_MODEL", help="The LLM to ask.")
    ] = "gpt-4o-mini",
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            envvar="OPENAI_BASE_URL",
            help="An OpenAI-compatible server, e.g. http://localhost:11434/v1 (Ollama). "
            "The key comes from OPENAI_API_KEY; local servers need none.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(envvar="GENDISCO_LLM_TIMEOUT", help="Seconds to wait for each reply.")
    ] = 60.0,
    retries: Annotated[
        int,
        typer.Option(
            min=0,
            max=10,
            envvar="GENDISCO_LLM_RETRIES",
            help="Retries after a timeout, lost connection, 429 or 5xx answer.",
        ),
    ] = 2,
    images: Annotated[
        bool,
        typer.Option("--images", help="Also render a preview sheet of the proposed prompts."),
    ] = False,
    model: Annotated[
        str,
        typer.Option(
            help="Text-to-image model for --images; with --offline, `tiny` also limits the "
            "ideas to the words the built-in tiny model knows."
        ),
    ] = PREVIEW_MODEL,
    device: Annotated[str | None, typer.Option(help="For --images: cuda, mps or cpu.")] = None,
    width: Annotated[int, typer.Option(min=64, max=4096, help="For --images: tile width.")] = 512,
    height: Annotated[int, typer.Option(min=64, max=4096, help="For --images: tile height.")] = 512,
    out: Annotated[Path, typer.Option(help="Where --images writes the PNG.")] = BRAINSTORM_PNG,
) -> None:
    """Ask an LLM (or the offline vocabulary) for prompt ideas as a YAML snippet.

    GOAL gives subjects expanded into prompts of at most ~20 words; --transitions gives
    an end prompt per transition kind; --variations gives rewordings for holds. The YAML
    goes to stdout, ready to paste into a project. Without OPENAI_API_KEY and --base-url
    (or with --offline) the ideas come from a built-in videography vocabulary.
    """
    from gendisco import brainstorm as bs
    from gendisco.errors import UserError

    if transitions is not None and variations is not None:
        raise UserError("give either --transitions or --variations, not both")
    if transitions is None and variations is None and not goal.strip():
        raise UserError("give a GOAL, --transitions PROMPT or --variations PROMPT")
    if transitions is not None and count is not None:
        raise UserError("--count does not apply to --transitions (one end prompt per kind)")
    if images:
        bs.check_sheet_path(out)
        default = "--images' default" if model == PREVIEW_MODEL else ""
        check_model_first(model, default_from=default)

    def status(message: str) -> None:
        stderr.print(message, markup=False)

    llm = None
    if not offline:
        llm = bs.connect(model=llm_model, base_url=base_url, timeout_s=timeout, max_retries=retries)
        if llm is None:
            status(
                "no OPENAI_API_KEY and no --base-url: using the offline vocabulary "
                "(--offline hides this note)"
            )
    words = bs.offline_words(model)  # `--model tiny`: only words the tiny model knows
    if transitions is not None:
        ideas = bs.brainstorm_transitions(
            transitions, llm=llm, goal=goal, seed=seed, status=status, words=words
        )
    elif variations is not None:
        ideas = bs.brainstorm_variations(
            variations, llm=llm, count=count or 4, goal=goal, seed=seed, status=status, words=words
        )
    else:
        ideas = bs.brainstorm_prompts(
            goal, llm=llm, count=count or 6, seed=seed, status=status, words=words
        )
    if llm is None:
        status(f"ideas from {ideas.source}")
    sys.stdout.write(ideas.to_yaml())
    sys.stdout.flush()

    if images:
        path = bs.render_sheet(
            ideas.prompts,
            model=model,
            device=device,
            out=out,
            seed=seed,
            width=width,
            height=height,
            title=f"gendisco brainstorm: {ideas.query}",
            status=status,
        )
        status(f"wrote {path}")


@app.command(
    epilog="Example: gendisco init song.mp3 --out project.yaml --bars 8  "
    '(or: gendisco init song.mp3 --from-brainstorm "late-summer heartbreak pop song")'
)
@handles_errors
def init(
    song: Annotated[Path, typer.Argument(help="The song to build a project around.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The project file to write.")] = Path(
        "project.yaml"
    ),
    bars: Annotated[
        int, typer.Option(min=1, max=64, help="Bars per interval between section changes.")
    ] = 8,
    model: Annotated[
        str, typer.Option(help="Text-to-image model written into the project.")
    ] = "stabilityai/sd-turbo",
    from_brainstorm: Annotated[
        str | None,
        typer.Option(
            "--from-brainstorm",
            metavar="GOAL",
            help="Fill the prompts from `gendisco brainstorm GOAL` (an LLM when OPENAI_API_KEY "
            "or OPENAI_BASE_URL is set, else the offline vocabulary) instead of placeholders.",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="With --from-brainstorm: the offline vocabulary, no LLM."),
    ] = False,
    seed: Annotated[
        int, typer.Option(min=0, help="First seed; also makes offline brainstorm ideas repeat.")
    ] = 42,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Analyse a song and write a project whose intervals follow its structure.

    Boundaries go on section changes and every --bars bars in between, each on a detected
    downbeat, from 0 to the song's end. Short stretches and every fourth interval are holds;
    the rest are transitions (color, time and style within a section, the subject at a
    section change). Prompts are placeholders unless --from-brainstorm is given. The file is
    commented, validates as written and renders with `gendisco render`.
    """
    import shlex

    from gendisco import scaffold

    def status(message: str) -> None:
        stderr.print(message, markup=False)

    llm = None
    if from_brainstorm is not None and not offline:
        from gendisco import brainstorm as bs

        llm = bs.connect()
        if llm is None:
            status("no OPENAI_API_KEY and no OPENAI_BASE_URL: prompts from the offline vocabulary")
    command = " ".join(shlex.quote(a) for a in ["gendisco", "init", *sys.argv[2:]])
    result = scaffold.init_project(
        song,
        out,
        bars=bars,
        model=model,
        goal=from_brainstorm,
        llm=llm,
        seed=seed,
        force=force,
        command=command if sys.argv[1:2] == ["init"] else None,
        status=status,
    )
    found = result.analysis
    tempo = f"{found.tempo_bpm:.1f} BPM, {result.meter}/4" if found.tempo_bpm else "no beat found"
    sections = found.section_times_s.size
    count = len(result.intervals)
    status(f"{song}: {tempo}, {found.duration_s:.1f} s, {wording.count(sections, 'section')}")
    status(
        f"wrote {out}: {wording.count(count, 'interval')} "
        f"({wording.count(count - result.holds, 'transition')}, "
        f"{wording.count(result.holds, 'hold')}), prompts from {result.source}"
    )
    status(f"next: a quick look with {scaffold.draft_hint(str(out), found.duration_s)}")
    status(f"then: edit the prompts and `gendisco render {shlex.quote(str(out))}`")


@app.command(
    epilog="Example: gendisco studio projects/demo/demo.yaml  "
    "(or: gendisco studio song.mp3, which first writes song.yaml as `gendisco init` does)"
)
@handles_errors
def studio(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="PROJECT_OR_SONG",
            help="A project file (.yaml), or a song to start a project from.",
            show_default=False,
        ),
    ],
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port (default: 8765 or the next free one; 0 = any free port)."
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; other than loopback needs --allow-remote.")
    ] = "127.0.0.1",
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow --host to be an address other machines can reach (the URL's token "
            "still guards every request).",
        ),
    ] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the URL; do not open a browser.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="With a song: the project file to write (default: SONG.yaml)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Override the project's model for explore and render (tiny = offline)."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cuda, cuda:1, mps or cpu.")] = None,
) -> None:
    """Open the studio: waveform, intervals, brainstorm, images, tracks and video in the browser.

    Serves a page on 127.0.0.1 over the project file: edits are validated and saved to the
    YAML file with its comments kept; renders stream their progress. Given a song instead
    of a project, it first writes a project for it (as `gendisco init` does), or opens the
    one already beside it. The URL carries a token for this run; Ctrl-C stops the server.
    """
    try:
        from gendisco.studio.server import serve
    except ImportError as error:
        from gendisco.errors import UserError

        raise UserError(
            f"the studio needs its optional extra ({error.name} is missing): "
            "pip install 'gendisco[studio]'"
        ) from None

    def status(message: str) -> None:
        stderr.print(message, markup=False)

    project = source
    if source.suffix.lower() not in (".yaml", ".yml"):
        from gendisco import scaffold

        project = out or source.with_suffix(".yaml")
        if project.exists():
            status(f"opening the existing project {project}")
        else:
            result = scaffold.init_project(
                source,
                project,
                model=model or scaffold.DEFAULT_MODEL,
                command=f"gendisco studio {source}",
                status=status,
            )
            status(f"wrote {project}: {len(result.intervals)} intervals, prompts to replace")

    def announce(url: str) -> None:
        status(f"gendisco studio: {project}; Ctrl-C stops it")
        typer.echo(url)  # stdout: a script can read the URL from here

    serve(
        project,
        host=host,
        port=port,
        allow_remote=allow_remote,
        open_browser=not no_browser,
        model=model,
        device=device,
        announce=announce,
        warn=lambda message: stderr.print(f"warning: {message}", markup=False),
    )


def _looks_like_ray_address(token: str) -> bool:
    host, _, port = token.rpartition(":")
    return token in ("local", "auto") or "://" in token or (bool(host) and port.isdigit())


def _not_a_mode(token: str | None) -> bool:
    """After `--compile`: the end, another option or the project file, not a misspelt mode
    (which click then refuses in one line, naming the modes)."""
    if token is None or token.startswith("-"):
        return True
    return Path(token).suffix.lower() in (".yaml", ".yml") or Path(token).exists()


def expand_bare_ray(argv: list[str]) -> list[str]:
    """Options with an optional value: a bare `--ray` (at the end, or before an option or
    the project file) means a Ray started on this machine; a bare `--compile`, the default
    compile mode."""
    modes: tuple[str, ...] = ()
    if "--compile" in argv:  # pydantic only when needed: `--help` stays instant
        from gendisco.speed import COMPILE_MODES

        modes = COMPILE_MODES
    expanded = []
    for i, token in enumerate(argv):
        expanded.append(token)
        following = argv[i + 1] if i + 1 < len(argv) else None
        if token == "--ray" and (following is None or not _looks_like_ray_address(following)):
            expanded.append("local")
        if token == "--compile" and following not in modes and _not_a_mode(following):
            expanded.append("default")
    return expanded


def usage_error_line(error: click.exceptions.UsageError) -> str:
    """Click's usage error as one product line: `--dtype: 'int8' is not one of ... (see
    gendisco render --help)`, instead of click's usage block and `Error: Invalid value`."""

    def lower(text: str) -> str:  # "Missing argument" -> "missing argument", not "PROJECT"
        return text[0].lower() + text[1:] if text[1:2].islower() else text

    message = error.format_message().replace("Value error, ", "").rstrip(".")
    if message.startswith("Invalid value for "):
        hint, _, reason = message.removeprefix("Invalid value for ").partition(": ")
        message = f"{hint.strip(chr(39))}: {lower(reason)}"
    message = lower(message)
    command = error.ctx.command_path if error.ctx is not None else "gendisco"
    return f"{message} (see `{command} --help`)"


def main() -> None:
    """Console entry point."""
    try:
        code = app(args=expand_bare_ray(sys.argv[1:]), prog_name="gendisco", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.UsageError as error:  # a bad option, value or argument
        stderr.print(f"error: {usage_error_line(error)}", markup=False)
        sys.exit(2)
    except click.exceptions.ClickException as error:
        stderr.print(f"error: {error.format_message()}", markup=False)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C during parsing or teardown
        sys.exit(130)
    finally:
        # The interpreter's last garbage collection walks every object still alive, torch's
        # and diffusers' hundreds of thousands included: seconds at exit spent on nothing.
        # Frozen objects are left to the operating system; every file the command wrote is
        # closed by now, and stdout and stderr are flushed after this.
        gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)
