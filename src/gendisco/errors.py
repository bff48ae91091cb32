"""Errors whose messages are written for the people who run gendisco.

Every error a user can cause or fix ends up as one of these; the CLI prints each message
line without a traceback and exits with `exit_code` (see DESIGN.md: 1 outside the user's
control, 2 a user mistake).
"""

from __future__ import annotations


class GendiscoError(Exception):
    """Base class: `lines()` are printed one per line by the CLI."""

    exit_code = 1

    def lines(self) -> list[str]:
        return [str(self)]


class UserError(GendiscoError):
    """A mistake the user can fix: a bad option, a missing file."""

    exit_code = 2


class ProjectError(UserError):
    """A project file with one or more problems, each `path: message`."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{problem}" for problem in self.problems]


class AudioError(UserError):
    """A song that is missing, unreadable or not audio."""


class ModelError(GendiscoError):
    """A model that cannot be found, fetched or loaded."""


class ModelNotDownloaded(ModelError):
    """A hub model (or its TAESD decoder) that is not in the cache and cannot be fetched from
    here: the offline case, where a command can point at the built-in model instead."""


class ModelPathError(ModelError, UserError):
    """A model the user named wrongly: a path that does not exist, a file gendisco will not
    load (not safetensors), a folder that is not a pipeline, a malformed hub id. Exit 2."""


class LLMError(GendiscoError):
    """The language model service failed or answered something unusable."""


class RenderError(GendiscoError):
    """Rendering failed for a reason outside the user's control (disk, encoder)."""
