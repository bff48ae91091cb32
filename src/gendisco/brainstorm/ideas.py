"""What a brainstorm returns: prompt ideas, and a YAML snippet to paste into a project."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

MAX_WORDS = 20  # the original system's limit: longer prompts dilute the text encoder's focus
TRANSITION_KINDS = ("color", "time", "subject", "style")

Status = Callable[[str], None]


def quiet(message: str) -> None:
    """A status callback that says nothing."""


def end_prompt_word_limit(prompt: str) -> int:
    """Words allowed in an end prompt or rewording of `prompt`.

    An end prompt often repeats a long start prompt plus a modifier; cutting it back to
    MAX_WORDS would drop exactly the modifier that makes the transition.
    """
    return max(MAX_WORDS, len(prompt.split()) + 8)


@dataclass(frozen=True)
class Idea:
    """One proposed prompt; `subject` for the goal chain, `transition` for end prompts."""

    prompt: str
    subject: str | None = None
    transition: str | None = None


@dataclass(frozen=True)
class Ideas:
    """What a brainstorm proposes, and where the ideas came from."""

    kind: Literal["prompts", "transitions", "variations"]
    query: str  # the goal, or the start prompt
    ideas: list[Idea]
    source: str  # "gpt-4o-mini at the OpenAI API" or "the offline vocabulary (seed 7)"
    notes: list[str] = field(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        return [idea.prompt for idea in self.ideas]

    def to_yaml(self, *, hold_s: float = 4.0, transition_s: float = 8.0) -> str:
        """A commented `intervals:` snippet to paste into a project.

        Prompts and variations become holds, end prompts become transitions from the start
        prompt. Times are consecutive placeholders of `hold_s` / `transition_s` seconds.
        """
        q = _yaml_str(self.query)
        header = {
            "prompts": f"# Prompt ideas for {q}, from {self.source}.",
            "transitions": f"# End prompts for {q}, one per transition kind, from {self.source}.",
            "variations": f"# Rewordings of {q} for holds, from {self.source}.",
        }[self.kind]
        lines = [
            _comment(header),
            "# start/end are placeholders: set them to the song's sections (`gendisco analyze`).",
            "# Each prompt also fits any interval's `from`, `to` or `hold`.",
            "intervals:",
        ]
        length = transition_s if self.kind == "transitions" else hold_s
        for i, idea in enumerate(self.ideas):
            start, end = i * length, (i + 1) * length
            if idea.subject:
                lines.append(_comment(f"  # {idea.subject}"))
            lines += [f"  - start: {start:.1f}", f"    end: {end:.1f}"]
            if self.kind == "transitions":
                lines += [
                    f"    transition: {idea.transition}",
                    f"    from: {{prompt: {_yaml_str(self.query)}}}",
                    f"    to: {{prompt: {_yaml_str(idea.prompt)}}}",
                ]
            else:
                lines.append(f"    hold: {{prompt: {_yaml_str(idea.prompt)}}}")
        return "\n".join(lines) + "\n"


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.splitlines())
