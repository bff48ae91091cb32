"""Prompts longer than the text encoder reads.

The CLIP text encoders of Stable Diffusion 1.x and 2.x, SDXL, the turbo models and `tiny`
read 77 tokens, two of them the start and end markers: whatever follows the 75th token of a
prompt is cut off without a word and changes nothing in the picture. Styles go last in a
prompt, so they are what gets lost.

`validate` and the studio cannot load a model's tokenizer (no torch, no network, and they
answer in milliseconds), but every word, every digit and every run of punctuation is at least
one CLIP token, so a prompt with more than 75 of those is certainly cut: `least_tokens`. The
render, which has the tokenizer, counts exactly: `cut_off`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gendisco.project import resolve_intervals

CLIP_TOKENS = 77  # what the CLIP text encoders read, with the start and end markers
MARKERS = 2
# The pieces CLIP's tokenizer cuts a prompt into before byte-pair encoding: a contraction
# ('s, 're, ...), a run of letters, one digit, a run of other characters that are not
# spaces. Each becomes one token or more. Only ASCII and spaces are classified here; any
# other character joins the run it touches (a letter run where there is an ASCII letter in it),
# so this never cuts where CLIP would not, whatever Unicode version either side knows, and
# the count stays a lower bound.
# Unicode's other White_Space characters: spaces to CLIP's normaliser, as to this pattern
_OTHER = r"[^\x00-\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_PIECES = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)"
    rf"|{_OTHER}*+[a-z](?:[a-z]|{_OTHER})*+"
    r"|[0-9]"
    rf"|(?:[\x00-\x08\x0e-\x1f!-/:-@\[-`{{-~\x7f]|{_OTHER})+",
    re.IGNORECASE,
)


def resolved_places(intervals: Iterable[Any], negative: str = "") -> list[tuple[str, str]]:
    """(where, prompt) for each distinct prompt the model reads, style included: the start
    and end of each resolved interval (`project.ResolvedInterval`), then the negative
    prompt if it is used. A prompt an interval continues from is named once, where it
    first appears."""
    places, seen = [], set()
    for item in intervals:
        ends = (
            (("hold prompt", item.from_prompt),)
            if item.kind == "hold"
            else (
                ("start prompt", item.from_prompt),
                ("end prompt", item.to_prompt),
            )
        )
        for name, prompt in ends:
            if prompt not in seen:
                seen.add(prompt)
                places.append((f"intervals.{item.index} {name}", prompt))
    if negative.strip():
        places.append(("negative", negative))
    return places


def project_places(project: Any, resolved: list[Any] | None = None) -> list[tuple[str, str]]:
    """`resolved_places` for a `project.Project` (its `resolve_intervals`, when the caller
    has them already): its negative prompt only where guidance uses it."""
    negative = project.negative if project.guidance > 1.0 else ""
    return resolved_places(resolve_intervals(project) if resolved is None else resolved, negative)


def least_tokens(prompt: str) -> int:
    """A lower bound on the CLIP tokens of `prompt` (markers not counted)."""
    return len(_PIECES.findall(prompt))


def certainly_cut(places: Iterable[tuple[str, str]]) -> list[str]:
    """One warning per (where, prompt) that no CLIP text encoder reads to the end."""
    readable = CLIP_TOKENS - MARKERS
    warnings = []
    for where, prompt in places:
        pieces = list(_PIECES.finditer(prompt))
        if len(pieces) > readable:
            lost = prompt[pieces[readable].start() :]
            warnings.append(
                f"{where}: at least {len(pieces)} tokens, and the model reads {readable}: "
                f"'{_shortened(lost)}' is cut off (put what matters first, or shorten it)"
            )
    return warnings


def cut_off(tokenizer: Any, prompt: str) -> tuple[int, str] | None:
    """(tokens, the text past the limit) when `tokenizer` cuts `prompt`, else None."""
    readable = int(tokenizer.model_max_length) - MARKERS
    ids = tokenizer(prompt, add_special_tokens=False, verbose=False).input_ids
    if len(ids) <= readable:
        return None
    # the tokenizer decodes with a space before punctuation ("a cat , red"): written back
    lost = re.sub(r"\s+([,.;:!?)])", r"\1", tokenizer.decode(ids[readable:])).strip()
    return len(ids), lost


def cut_off_warnings(pipe: Any, places: Iterable[tuple[str, str]]) -> list[str]:
    """One warning per (where, prompt) the pipeline's tokenizer cuts off."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "model_max_length", 0):
        return []
    readable = int(tokenizer.model_max_length) - MARKERS
    warnings = []
    for where, prompt in places:
        cut = cut_off(tokenizer, prompt)
        if cut is not None:
            tokens, lost = cut
            warnings.append(
                f"{where}: {tokens} tokens, and the model reads {readable}: "
                f"'{_shortened(lost)}' changed nothing (put what matters first, or shorten it)"
            )
    return warnings


def _shortened(text: str, limit: int = 60) -> str:
    """The text, or its start and its end cut at spaces: where the cut falls, and what it
    takes with it (the end of a prompt is where the style goes)."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    head, tail = text[:half], text[-half:]
    head = head.rsplit(" ", 1)[0] if " " in head else head
    tail = tail.split(" ", 1)[1] if " " in tail else tail
    return f"{head.rstrip(' ,')} ... {tail}"
