"""Prompt ideas without an LLM, from the videography vocabulary in `vocabulary.yaml`.

Domain knowledge as in Generative Disco's non-LLM suggestions: palettes, times of day, shot
sizes and angles, lighting, styles and media, subjects, and symbols suggested by a goal's
words. Every function is deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from importlib import resources

import yaml

from gendisco.brainstorm.ideas import TRANSITION_KINDS, Idea, Ideas, end_prompt_word_limit
from gendisco.brainstorm.replies import limit_words


def _load_vocabulary() -> dict:
    text = resources.files("gendisco.brainstorm").joinpath("vocabulary.yaml").read_text("utf-8")
    return yaml.safe_load(text)


_VOCABULARY = _load_vocabulary()
PALETTES: tuple[str, ...] = tuple(_VOCABULARY["palettes"])
TIMES: tuple[str, ...] = tuple(_VOCABULARY["times"])
SHOTS: tuple[str, ...] = tuple(_VOCABULARY["shots"])
LIGHTING: tuple[str, ...] = tuple(_VOCABULARY["lighting"])
STYLES: tuple[str, ...] = tuple(_VOCABULARY["styles"])
SUBJECTS: tuple[str, ...] = tuple(_VOCABULARY["subjects"])
# Words in a goal that suggest symbols; matched at the start of a word ("heart" in "heartbreak").
SYMBOLS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _VOCABULARY["symbols"].items()}
SYNONYMS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _VOCABULARY["synonyms"].items()}
_TIME_WORDS = re.compile(
    r"\b(?:(?:at|in|during|under)\s+(?:the\s+|a\s+)?)?"
    r"(?:dawn|dusk|sunset|sunrise|night(?:time)?|midnight|noon|midday|morning|evening|"
    r"twilight|golden hour|blue hour|daylight)\b",
    re.I,
)


def _rng(seed: int | None) -> tuple[random.Random, int]:
    if seed is None:
        seed = random.SystemRandom().randrange(10_000)
    return random.Random(seed), seed


def _draw(rng: random.Random, pool: Sequence[str], k: int) -> list[str]:
    """`k` items, all different until the pool is used up."""
    out: list[str] = []
    while len(out) < k:
        out += rng.sample(list(pool), min(len(pool), k - len(out)))
    return out


def _symbols_for(goal: str) -> list[str]:
    words = re.findall(r"[a-z]+", goal.lower())
    found: list[str] = []
    for stem, symbols in SYMBOLS.items():
        if any(w.startswith(stem) for w in words):
            found += [s for s in symbols if s not in found]
    return found


def _offline_source(seed: int) -> str:
    return f"the offline vocabulary (seed {seed})"


def offline_prompts(goal: str, *, count: int = 6, seed: int | None = None) -> Ideas:
    """Subjects suggested by the goal's words (else the goal itself), dressed with shot,
    lighting, palette and medium from the vocabulary. Deterministic for a given seed."""
    rng, seed = _rng(seed)
    symbols = _symbols_for(goal)
    rng.shuffle(symbols)
    subjects = symbols[:count] if symbols else [limit_words(goal, 10)]
    extra = [s for s in SUBJECTS if s not in subjects]
    rng.shuffle(extra)
    subjects += extra[: count - len(subjects)]
    shots, lights = _draw(rng, SHOTS, count), _draw(rng, LIGHTING, count)
    palettes, styles = _draw(rng, PALETTES, count), _draw(rng, STYLES, count)
    ideas = [
        Idea(
            prompt=limit_words(f"{subject}, {shots[i]}, {lights[i]}, {palettes[i]}, {styles[i]}"),
            subject=subject,
        )
        for i, subject in enumerate(subjects)
    ]
    return Ideas("prompts", goal, ideas, _offline_source(seed))


def _split_subject(prompt: str) -> tuple[str, str]:
    subject, _, rest = prompt.partition(",")
    return subject.strip(), rest.strip()


def offline_transitions(prompt: str, *, seed: int | None = None) -> Ideas:
    """Color: a palette added; time: the time of day swapped or added; subject: another
    subject with the same modifiers; style: a medium added. Deterministic for a seed."""
    rng, seed = _rng(seed)
    lower = prompt.lower()
    palette = rng.choice([p for p in PALETTES if p.split()[0] not in lower] or PALETTES)
    when = rng.choice([t for t in TIMES if t.split()[-1] not in lower] or list(TIMES))
    if _TIME_WORDS.search(prompt):
        timed = _TIME_WORDS.sub(when, prompt, count=1)
    else:
        subject, rest = _split_subject(prompt)
        timed = ", ".join(x for x in (f"{subject} {when}", rest) if x)
    subject, rest = _split_subject(prompt)
    candidates = [
        s for s in (_symbols_for(prompt) + list(SUBJECTS)) if s.lower() != subject.lower()
    ]
    other = rng.choice([s for s in candidates if s.lower() not in lower] or candidates)
    if not rest:
        rest = ", ".join([rng.choice(SHOTS), rng.choice(LIGHTING)])
    style = rng.choice([s for s in STYLES if s.lower() not in lower])
    ends = {
        "color": f"{prompt}, {palette}",
        "time": timed,
        "subject": f"{other}, {rest}",
        "style": f"{prompt}, {style}",
    }
    limit = end_prompt_word_limit(prompt)
    ideas = [Idea(limit_words(ends[k], limit), transition=k) for k in TRANSITION_KINDS]
    return Ideas("transitions", prompt, ideas, _offline_source(seed))


def offline_variations(prompt: str, *, count: int = 4, seed: int | None = None) -> Ideas:
    """Synonyms swapped in, modifiers reordered, a shot size or angle added: the scene
    stays the same. Deterministic for a seed."""
    rng, seed = _rng(seed)
    subject, rest = _split_subject(prompt)
    modifiers = [m.strip() for m in rest.split(",") if m.strip()]

    def synonyms(text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            word = match.group(0)
            choices = SYNONYMS.get(word.lower())
            if not choices or rng.random() < 0.3:
                return word
            new = rng.choice(choices)
            return new.capitalize() if word[0].isupper() else new

        return re.sub(r"[A-Za-z]+", swap, text)

    seen = {prompt.lower()}
    out: list[str] = []
    shots = _draw(rng, SHOTS, len(SHOTS))
    for attempt in range(count * 8):
        mods = list(modifiers)
        rng.shuffle(mods)
        if attempt % 2 or not mods or attempt >= count * 4:
            mods.insert(rng.randrange(len(mods) + 1), shots[attempt % len(shots)])
        text = ", ".join([synonyms(subject), *mods])
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
        if len(out) == count:
            break
    limit = end_prompt_word_limit(prompt)
    ideas = [Idea(limit_words(t, limit)) for t in out]
    return Ideas("variations", prompt, ideas, _offline_source(seed))
