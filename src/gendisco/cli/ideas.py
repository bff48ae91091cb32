"""Finding prompts and seeds: `gendisco preview` and `gendisco brainstorm`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gendisco.cli.conventions import app, handles_errors, stderr

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
        from gendisco.prompt_length import project_places

        pipe = load_pipeline(
            chosen_model,
            device=device,
            vae=project.vae,
            scheduler=scheduler or project.scheduler,
            speed=with_overrides(project.speed, speed or []),
        )
        _warn_cut_prompts(pipe, project_places(project))
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
        _warn_cut_prompts(pipe, [("the prompt", prompt)])
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


def _warn_cut_prompts(pipe, places: list[tuple[str, str]]) -> None:
    from gendisco.prompt_length import cut_off_warnings

    for warning in cut_off_warnings(pipe, places):
        stderr.print(f"warning: {warning}", markup=False)


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
