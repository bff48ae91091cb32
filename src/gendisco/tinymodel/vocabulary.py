"""The `tiny` model's visual language (`vocabulary.json`) and the words it knows.

Torch- and numpy-free, so `gendisco validate` can warn about unknown prompt words instantly.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

VOCABULARY_PATH = Path(__file__).with_name("vocabulary.json")

# CLIP's own pre-tokenizer, without the \p classes (the vocabulary is ASCII)
_WORD = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")


@cache
def vocabulary() -> dict[str, Any]:
    return json.loads(VOCABULARY_PATH.read_text(encoding="utf-8"))


def colors() -> list[str]:
    return list(vocabulary()["colors"])


def times() -> list[str]:
    return list(vocabulary()["times"])


def subjects() -> list[str]:
    return list(vocabulary()["subjects"])


def styles() -> list[str]:
    return list(vocabulary()["styles"])


def words_in(text: str) -> list[str]:
    """The words of `text` as the tokenizer splits them (lower case)."""
    return _WORD.findall(text.lower())


@cache
def known_words() -> tuple[str, ...]:
    """Every word the model was trained on, sorted."""
    vocab = vocabulary()
    texts: list[str] = list(vocab["fillers"]) + list(vocab["function_words"])
    for entry in vocab["colors"].values():
        texts += entry["phrases"]
    for entry in vocab["times"].values():
        texts += entry["phrases"]
    for phrases in list(vocab["subjects"].values()) + list(vocab["styles"].values()):
        texts += phrases
    for template in vocab["templates"]:
        texts.append(re.sub(r"\{\w+\}", " ", template))
    return tuple(sorted({word for text in texts for word in words_in(text) if word.isalnum()}))


def unknown_words(prompt: str) -> list[str]:
    """The words of `prompt` the model never saw, in order, each once."""
    known = set(known_words())
    unknown: list[str] = []
    for word in words_in(prompt):
        if word.isalnum() and word not in known and word not in unknown:
            unknown.append(word)
    return unknown


def prompt_warnings(prompts: list[tuple[str, str]], *, shown: int = 6) -> list[str]:
    """One warning per (where, prompt) with words the `tiny` model does not know."""
    warnings = []
    for where, prompt in prompts:
        unknown = unknown_words(prompt)
        if unknown:
            listed = ", ".join(repr(word) for word in unknown[:shown])
            more = f" and {len(unknown) - shown} more" if len(unknown) > shown else ""
            warnings.append(
                f"{where}: the tiny model does not know {listed}{more}; it draws "
                f"{', '.join(subjects())} in {len(colors())} colours at {', '.join(times())}, "
                f"{', '.join(styles()[:-1])} or {styles()[-1]} "
                "(`gendisco brainstorm SUBJECT --offline --model tiny` lists its words)"
            )
    return warnings


def plain_phrases() -> dict[str, list[str]]:
    """The first (plainest) phrase of every colour, time, subject and style, by kind."""
    vocab = vocabulary()
    return {
        "colors": [entry["phrases"][0] for entry in vocab["colors"].values()],
        "times": [entry["phrases"][0] for entry in vocab["times"].values()],
        "subjects": [phrases[0] for phrases in vocab["subjects"].values()],
        "styles": [phrases[0] for name, phrases in vocab["styles"].items() if name != "flat"],
    }
