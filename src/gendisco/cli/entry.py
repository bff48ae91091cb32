"""The console entry point: argv fixes (a bare `--ray`, `--compile` without a mode), usage
errors in one line, and the exit code."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import typer
from typer import _click as click  # the click that typer vendors (typer >= 0.29)

from gendisco.cli import ideas, project_commands, render_command, studio_command  # noqa: F401  (registers the commands)
from gendisco.cli.conventions import app, stderr


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
