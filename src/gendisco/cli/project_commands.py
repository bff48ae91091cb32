"""Commands on a project file and its song: validate, schema, analyze, init, clean."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gendisco import wording
from gendisco.cli.conventions import ProjectArg, app, handles_errors, stderr


@app.command(epilog="Example: gendisco validate projects/demo/demo.yaml")
@handles_errors
def validate(project: ProjectArg) -> None:
    """Check a project file and report every problem at once, one line each.

    Prints one `ok` line on stdout when the project is valid (warnings, such as gaps
    between intervals or a model not downloaded yet, go to stderr); otherwise one `error:`
    line per problem and exit 2.
    """
    from gendisco.model_check import model_warnings
    from gendisco.project import format_time, load_project, unused_settings
    from gendisco.prompt_length import certainly_cut, project_places

    loaded = load_project(project)
    warnings = [
        *loaded.warnings,
        *unused_settings(loaded),
        *certainly_cut(project_places(loaded)),
        *model_warnings(loaded.model, vae=loaded.vae),
    ]
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
            from gendisco.rendering import laid_out_intervals

            intervals, _, _ = laid_out_intervals(project, result)  # snapped, as rendered
            for item in intervals:
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
