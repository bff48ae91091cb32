"""The `gendisco` command line: parse options, call one library function, map errors.

Results go to stdout, status and progress to stderr. Exit codes (DESIGN.md): 0 done,
1 failure outside the user's control, 2 user mistake, 130 interrupted. Heavy libraries
(torch, diffusers, librosa) are imported inside the commands that need them, so
`gendisco validate` and `gendisco schema` answer instantly.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gendisco.errors import GendiscoError

app = typer.Typer(
    name="gendisco",
    help="Turn a song into an audio-reactive music video with text-to-image diffusion.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)

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
    """A rich progress bar on stderr fed by the renderer's progress callback."""

    def __init__(self, *, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._task = None

    def __enter__(self) -> RenderProgressBar:
        if self.enabled:
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
        return self

    def update(self, event) -> None:
        if self._progress is None:
            return
        if event.stage == "wait":
            stderr.print(f"waiting: {event.message}", markup=False)
            return
        if event.stage in ("analyze", "load", "stitch"):
            stderr.print(f"{event.stage}: {event.message}", markup=False)
            return
        if event.stage != "render":
            return
        if self._task is None:
            self._task = self._progress.add_task(
                "render", total=event.frames_total, rate="", start=True
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

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def _not_available(command: str) -> None:
    raise GendiscoError(f"`gendisco {command}` is not available in this build")


ProjectArg = Annotated[
    Path, typer.Argument(help="Project file (YAML).", show_default=False, dir_okay=False)
]


@app.command(epilog="Example: gendisco validate projects/demo/demo.yaml")
@handles_errors
def validate(project: ProjectArg) -> None:
    """Check a project file and report every problem at once, one line each.

    Prints one `ok` line on stdout when the project is valid (warnings, such as gaps
    between intervals, go to stderr); otherwise one `error:` line per problem and exit 2.
    """
    from gendisco.project import format_time, load_project

    loaded = load_project(project)
    for warning in loaded.warnings:
        stderr.print(f"warning: {project}: {warning}", markup=False)
    count = len(loaded.intervals)
    span = f"{format_time(loaded.intervals[0].start)}-{format_time(loaded.intervals[-1].end)}"
    noun = "interval" if count == 1 else "intervals"
    typer.echo(f"{project}: ok ({count} {noun}, {span}, model {loaded.model})")


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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    dtype: Annotated[
        str | None, typer.Option(help="fp16, bf16 or fp32 (default: fp16 on CUDA, else fp32).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    compile_model: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="torch.compile the model: a minute or more of compiling at the start, then "
            "1.4-1.7x faster on a GPU. Pays off on long renders.",
        ),
    ] = False,
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
    stopped. Intervals are numbered from 0, as in `gendisco validate`'s messages.
    """
    import json
    import signal

    from gendisco.render import render as render_project

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

        result = render_project(
            project,
            intervals=interval,
            model=model,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            write_frames=frames,
            progress=progress,
            ray_address=ray,
            compile=compile_model,
            wait=wait,
        )
    for warning in result.warnings:
        stderr.print(f"warning: {warning}", markup=False)
    if json_out:
        typer.echo(json.dumps(result.summary(), indent=2))
    elif not quiet:
        cached = sum(report.cached for report in result.intervals)
        where = result.final_path or result.manifest_path.parent
        stderr.print(
            f"{where}: {result.frames_total} frames, {result.frames_rendered} rendered "
            f"({result.frames_per_second:.2f} frames/s), {cached} of "
            f"{len(result.intervals)} intervals cached, {result.seconds:.1f} s",
            markup=False,
        )


PREVIEW_MODEL = "stabilityai/sd-turbo"


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
    negative: Annotated[str, typer.Option(help="Negative prompt (used when guidance > 1).")] = "",
    scheduler: Annotated[
        str | None, typer.Option(help="Scheduler short name (default: project's or euler).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Tiles per batch (default: from free memory).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the PNG.")] = Path("preview.png"),
) -> None:
    """Make a contact sheet of a prompt over several seeds, or a project's keyframes.

    With a prompt: one tile per seed, each labelled with its seed (same prompt and seeds,
    same sheet). With a project file: the start and end keyframes of each interval (or of
    --interval), side by side, rendered with the project's model and settings.
    """
    from gendisco.errors import UserError
    from gendisco.preview import check_sheet_path

    check_sheet_path(out)
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
        stderr.print(f"loading {chosen_model}", markup=False)
        from gendisco.models import load_pipeline
        from gendisco.preview import interval_sheet, save_sheet

        pipe = load_pipeline(
            chosen_model,
            device=device,
            vae=project.vae,
            scheduler=scheduler or project.scheduler,
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
        stderr.print(f"loading {chosen_model}", markup=False)
        from gendisco.models import load_pipeline
        from gendisco.preview import save_sheet, seed_sheet

        pipe = load_pipeline(chosen_model, device=device, scheduler=scheduler or "euler")
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
            metavar="[GOAL]", help="A song and artist, a lyric or a mood.", show_default=False
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
        str, typer.Option(help="Text-to-image model for --images (tiny = offline test model).")
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
    if transitions is not None:
        ideas = bs.brainstorm_transitions(transitions, llm=llm, goal=goal, seed=seed, status=status)
    elif variations is not None:
        ideas = bs.brainstorm_variations(
            variations, llm=llm, count=count or 4, goal=goal, seed=seed, status=status
        )
    else:
        ideas = bs.brainstorm_prompts(goal, llm=llm, count=count or 6, seed=seed, status=status)
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
    status(
        f"{song}: {tempo}, {found.duration_s:.1f} s, {sections} "
        f"section{'s' if sections != 1 else ''}"
    )
    status(
        f"wrote {out}: {count} interval{'s' if count != 1 else ''} "
        f"({count - result.holds} transitions, {result.holds} holds), prompts from "
        f"{result.source}"
    )
    status(f"next: edit the prompts, then `gendisco render {shlex.quote(str(out))}`")


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


def expand_bare_ray(argv: list[str]) -> list[str]:
    """`--ray` takes an optional address: a bare `--ray` (at the end, or before an option or
    the project file) means a Ray started on this machine."""
    expanded = []
    for i, token in enumerate(argv):
        expanded.append(token)
        following = argv[i + 1] if i + 1 < len(argv) else None
        if token == "--ray" and (following is None or not _looks_like_ray_address(following)):
            expanded.append("local")
    return expanded


def main() -> None:
    """Console entry point."""
    try:
        app(args=expand_bare_ray(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C during option parsing or teardown
        sys.exit(130)
