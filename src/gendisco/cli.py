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
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

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


def _not_available(command: str) -> None:
    raise GendiscoError(f"`gendisco {command}` is not available in this build")


ProjectArg = Annotated[
    Path, typer.Argument(help="Project file (YAML).", show_default=False, dir_okay=False)
]


@app.command(epilog="Example: gendisco validate projects/demo/demo.yaml")
@handles_errors
def validate(project: ProjectArg) -> None:
    """Check a project file and report every problem at once, one line each."""
    _not_available("validate")


@app.command(epilog="Example: gendisco schema > gendisco.schema.json")
@handles_errors
def schema() -> None:
    """Print the JSON Schema of the project format (for editors and the YAML language server)."""
    _not_available("schema")


@app.command(epilog="Example: gendisco analyze song.mp3 --plot analysis.png")
@handles_errors
def analyze(
    source: Annotated[Path, typer.Argument(help="A song, or a project file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Draw waveform, beats, sections and warp curves to a PNG.")
    ] = None,
) -> None:
    """Show a song's tempo, beats, downbeats and sections."""
    _not_available("analyze")


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
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Render a project: one cached clip per interval, then final.mp4 with the song's audio."""
    _not_available("render")


@app.command(epilog='Example: gendisco preview "neon city skyline at night" --seeds 8')
@handles_errors
def preview(
    prompt: Annotated[str, typer.Argument(help="A prompt, or a project file with --interval.")],
    seeds: Annotated[int, typer.Option(min=1, max=64, help="How many seeds to try.")] = 8,
    first_seed: Annotated[int, typer.Option(min=0, help="The first seed of the sheet.")] = 0,
    interval: Annotated[
        int | None, typer.Option(help="With a project: show this interval's keyframes.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model (default: the project's, or tiny).")] = None,
    device: Annotated[str | None, typer.Option(help="cuda, mps or cpu.")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the PNG.")] = Path("preview.png"),
) -> None:
    """Make a contact sheet of a prompt over several seeds, or an interval's keyframes."""
    _not_available("preview")


@app.command(epilog='Example: gendisco brainstorm "late-summer heartbreak pop song"')
@handles_errors
def brainstorm(
    goal: Annotated[str, typer.Argument(help="A song and artist, a lyric or a mood.")] = "",
) -> None:
    """Ask an LLM (or the offline vocabulary) for prompt ideas as a YAML snippet."""
    _not_available("brainstorm")


@app.command(epilog="Example: gendisco init song.mp3 --out project.yaml")
@handles_errors
def init(
    song: Annotated[Path, typer.Argument(help="The song to build a project around.")],
) -> None:
    """Analyse a song and write a project whose intervals follow its structure."""
    _not_available("init")


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C during option parsing or teardown
        sys.exit(130)
