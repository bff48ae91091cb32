"""The questions the brainstorm chains ask, from `prompts.yaml` beside this file."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template
from typing import Any

import yaml

from gendisco.brainstorm.ideas import MAX_WORDS


@cache
def _templates() -> dict[str, str]:
    text = resources.files("gendisco.brainstorm").joinpath("prompts.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def ask(name: str, **fields: Any) -> str:
    """The `name` template of prompts.yaml with `fields` filled in."""
    templates = _templates()
    fields.setdefault("max_words", MAX_WORDS)
    if "goal" in fields:
        goal = str(fields["goal"])
        fields["context"] = (
            Template(templates["context"]).substitute(goal=goal) if goal.strip() else ""
        )
    if "$alt_text" in templates[name]:
        fields["alt_text"] = Template(templates["alt_text"]).substitute(max_words=MAX_WORDS)
    return Template(templates[name]).substitute(fields)


def role() -> str:
    return _templates()["role"]
