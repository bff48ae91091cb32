"""`gendisco studio`: the browser timeline editor, served locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gendisco.cli.conventions import app, handles_errors, stderr


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
