"""The command line's conventions: the typer app, help shown with plain names and
commands in the order of a day's work, and library errors mapped to one line each and the
documented exit code."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

import typer
from rich.console import Console
from typer import _click as click  # the click that typer vendors (typer >= 0.29)
from typer.core import TyperArgument, TyperGroup, TyperOption

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


# A folder is reported by load_project, in the product's words
ProjectArg = Annotated[Path, typer.Argument(help="Project file (YAML).", show_default=False)]
