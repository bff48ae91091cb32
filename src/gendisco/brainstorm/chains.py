"""The LLM chains: goal -> subjects -> prompts; start prompt -> end prompts; rewordings.

The questions asked are the templates of `prompts.yaml` (gendisco.brainstorm.templates).
"""

from __future__ import annotations

from typing import Any

from gendisco.brainstorm.ideas import (
    MAX_WORDS,
    TRANSITION_KINDS,
    Idea,
    Ideas,
    Status,
    end_prompt_word_limit,
    quiet,
)
from gendisco.brainstorm.llm import LLM
from gendisco.brainstorm.offline import (
    VIDEOGRAPHY,
    OfflineWords,
    offline_prompts,
    offline_transitions,
    offline_variations,
)
from gendisco.brainstorm.replies import (
    ReplyError,
    as_text,
    clean_prompt,
    limit_words,
    list_in,
    same_words,
    split_label,
    strings,
)
from gendisco.brainstorm.templates import ask, role
from gendisco.errors import UserError


def brainstorm_prompts(
    goal: str,
    *,
    llm: LLM | None,
    count: int = 6,
    seed: int | None = None,
    status: Status = quiet,
    words: OfflineWords = VIDEOGRAPHY,
) -> Ideas:
    """Subjects for `goal`, each expanded into a prompt of at most MAX_WORDS words.

    `llm=None` uses the offline vocabulary `words` (deterministic for a given `seed`).
    """
    goal = _check_text(goal, "GOAL")
    _check_count(count)
    if llm is None:
        return offline_prompts(goal, count=count, seed=seed, words=words)

    # 1. Concrete, visualisable subjects and symbols for the goal.
    status(f"asking {llm.label} for {count} subjects")

    def read_subjects(data: Any) -> list[str]:
        return [limit_words(s, 12) for s in strings(list_in(data, "subjects"), "subjects")]

    subjects = llm.ask_json(
        role(),
        ask("subjects", count=count, goal=goal),
        read_subjects,
        seed=seed,
        status=status,
    )[:count]

    # 2. Each subject as an alt-text prompt with visual modifiers.
    status(f"expanding {len(subjects)} subjects into prompts")
    listing = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(subjects))

    def read_prompts(data: Any) -> list[tuple[str | None, str]]:
        if (
            isinstance(data, dict)
            and "prompts" not in data
            and all(isinstance(v, str) for v in data.values())
        ):
            pairs = [(clean_prompt(k), clean_prompt(v)) for k, v in data.items()]
        else:
            items = list_in(data, "prompts")
            pairs = []
            for item in items:
                subject = item.get("subject") if isinstance(item, dict) else None
                text = item.get("prompt") if isinstance(item, dict) else item
                text = text if isinstance(text, str) else as_text(item)
                if isinstance(item, str):  # "a disco ball: a mirror disco ball, close-up"
                    subject, text = _labelled(item, subjects) or (None, item)
                if text and clean_prompt(text):
                    sub = clean_prompt(subject) if isinstance(subject, str) else None
                    pairs.append((sub, clean_prompt(text)))
        pairs = [(s, p) for s, p in pairs if p]
        if not pairs:
            raise ReplyError("the reply listed no prompts")
        return pairs

    pairs = llm.ask_json(
        role(),
        ask("prompts", listing=listing, goal=goal),
        read_prompts,
        seed=seed,
        status=status,
    )
    ideas = []
    for i, (subject, prompt) in enumerate(pairs[: len(subjects)]):
        subject = subject or (subjects[i] if i < len(subjects) else None)
        ideas.append(Idea(prompt=prompt, subject=subject))
    return _finish(Ideas("prompts", goal, ideas, llm.label), MAX_WORDS, status)


def brainstorm_transitions(
    prompt: str,
    *,
    llm: LLM | None,
    goal: str = "",
    seed: int | None = None,
    status: Status = quiet,
    words: OfflineWords = VIDEOGRAPHY,
) -> Ideas:
    """An end prompt for each transition kind (color, time, subject, style) from `prompt`."""
    prompt = _check_text(prompt, "--transitions")
    if llm is None:
        return offline_transitions(prompt, seed=seed, words=words)
    status(f"asking {llm.label} for transitions")

    def read(data: Any) -> dict[str, str]:
        if isinstance(data, list) and all(isinstance(item, str) for item in data):
            data = _transitions_in_lines(data)  # "color: ...", or four lines in the asked order
        elif isinstance(data, list):  # [{"transition": "color", "prompt": "..."}, ...]
            data = {
                str(item.get("transition") or item.get("kind")): as_text(item)
                for item in data
                if isinstance(item, dict)
            }
        if isinstance(data, dict) and isinstance(data.get("transitions"), dict):
            data = data["transitions"]
        if not isinstance(data, dict):
            raise ReplyError("the reply was not an object of transition kinds")
        found = {}
        for kind in TRANSITION_KINDS:
            text = as_text(data.get(kind))
            if text and clean_prompt(text):
                found[kind] = clean_prompt(text)
        missing = [k for k in TRANSITION_KINDS if k not in found]
        if missing:
            raise ReplyError(f"the reply had no end prompt for {', '.join(missing)}")
        return found

    ends = llm.ask_json(
        role(),
        ask("transitions", prompt=prompt, goal=goal),
        read,
        seed=seed,
        status=status,
    )
    ideas = [Idea(prompt=ends[kind], transition=kind) for kind in TRANSITION_KINDS]
    return _finish(
        Ideas("transitions", prompt, ideas, llm.label), end_prompt_word_limit(prompt), status
    )


def brainstorm_variations(
    prompt: str,
    *,
    llm: LLM | None,
    count: int = 4,
    goal: str = "",
    seed: int | None = None,
    status: Status = quiet,
    words: OfflineWords = VIDEOGRAPHY,
) -> Ideas:
    """`count` rewordings of `prompt` that keep its meaning (a hold's prompt, said anew)."""
    prompt = _check_text(prompt, "--variations")
    _check_count(count)
    if llm is None:
        return offline_variations(prompt, count=count, seed=seed, words=words)
    status(f"asking {llm.label} for {count} variations")

    def read(data: Any) -> list[str]:
        texts = strings(list_in(data, "variations"), "variations")
        texts = [t for t in texts if t.lower() != prompt.lower()]
        if not texts:
            raise ReplyError("the reply only repeated the prompt")
        return texts

    texts = llm.ask_json(
        role(),
        ask("variations", prompt=prompt, count=count, goal=goal),
        read,
        seed=seed,
        status=status,
    )[:count]
    ideas = [Idea(prompt=t) for t in texts]
    return _finish(
        Ideas("variations", prompt, ideas, llm.label), end_prompt_word_limit(prompt), status
    )


def _labelled(line: str, labels: list[str]) -> tuple[str, str] | None:
    """(label, rest) of a line that starts with one of `labels` and a colon or dash."""
    split = split_label(line)
    if split and any(same_words(split[0], label) for label in labels):
        return split
    return None


def _transitions_in_lines(lines: list[str]) -> dict[str, str]:
    """End prompts from lines such as `Color: ...` or `time - ...`; four lines without
    labels are taken in the order asked (color, time, subject, style)."""
    found: dict[str, str] = {}
    for line in lines:
        split = split_label(line)
        kind = split[0].lower().removesuffix(" transition").strip() if split else ""
        if split and kind in TRANSITION_KINDS:
            found.setdefault(kind, split[1])
    if not found and len(lines) == len(TRANSITION_KINDS):
        return dict(zip(TRANSITION_KINDS, lines, strict=True))
    return found


def _finish(ideas: Ideas, max_words: int, status: Status) -> Ideas:
    trimmed = 0
    kept: list[Idea] = []
    for idea in ideas.ideas:
        short = limit_words(idea.prompt, max_words)
        trimmed += short != idea.prompt
        kept.append(Idea(short, idea.subject, idea.transition))
    notes = list(ideas.notes)
    if trimmed:
        notes.append(f"trimmed {trimmed} prompt{'s' if trimmed != 1 else ''} to {max_words} words")
        status(notes[-1])
    return Ideas(ideas.kind, ideas.query, kept, ideas.source, notes)


def _check_text(text: str, what: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise UserError(f"{what} must not be empty")
    return text


def _check_count(count: int) -> None:
    if not 1 <= count <= 50:
        raise UserError(f"--count must be between 1 and 50, got {count}")
