"""Prompt ideas without an LLM, from the videography vocabulary in `vocabulary.yaml`.

Domain knowledge as in Generative Disco's non-LLM suggestions: palettes, times of day, shot
sizes and angles, lighting, styles and media, subjects, and symbols suggested by a goal's
words. Every function is deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import yaml

from gendisco.brainstorm.ideas import TRANSITION_KINDS, Idea, Ideas, end_prompt_word_limit
from gendisco.brainstorm.replies import limit_words


def _load_vocabulary() -> dict:
    text = resources.files("gendisco.brainstorm").joinpath("vocabulary.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@dataclass(frozen=True)
class OfflineWords:
    """The pools offline ideas are drawn from."""

    palettes: tuple[str, ...]
    times: tuple[str, ...]
    shots: tuple[str, ...]
    lighting: tuple[str, ...]
    styles: tuple[str, ...]
    subjects: tuple[str, ...]
    # Words in a goal that suggest symbols; matched at the start of a word ("heart" in
    # "heartbreak").
    symbols: dict[str, tuple[str, ...]] = field(default_factory=dict)
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _videography_words() -> OfflineWords:
    vocab = _load_vocabulary()
    lists = {k: tuple(vocab[k]) for k in ("palettes", "times", "shots", "lighting", "styles")}
    return OfflineWords(
        **lists,
        subjects=tuple(vocab["subjects"]),
        symbols={k: tuple(v) for k, v in vocab["symbols"].items()},
        synonyms={k: tuple(v) for k, v in vocab["synonyms"].items()},
    )


VIDEOGRAPHY = _videography_words()
PALETTES, TIMES, SHOTS = VIDEOGRAPHY.palettes, VIDEOGRAPHY.times, VIDEOGRAPHY.shots
LIGHTING, STYLES, SUBJECTS = VIDEOGRAPHY.lighting, VIDEOGRAPHY.styles, VIDEOGRAPHY.subjects


def offline_words(model: str | None = None) -> OfflineWords:
    """The built-in `tiny` model gets only words it was trained on; other models the full
    videography vocabulary."""
    if model != "tiny":
        return VIDEOGRAPHY
    from gendisco.tinymodel.vocabulary import plain_phrases, vocabulary

    phrases, vocab = plain_phrases(), vocabulary()
    synonyms: dict[str, tuple[str, ...]] = {}
    for entry in vocab["colors"].values():
        single = [p for p in entry["phrases"] if " " not in p]
        for word in single:
            synonyms[word] = tuple(w for w in single if w != word)
    return OfflineWords(
        palettes=tuple(phrases["colors"]),
        times=tuple(phrases["times"]),
        shots=("close-up", "wide shot"),
        lighting=("vivid colors", "high detail", "digital painting"),
        styles=tuple(phrases["styles"]),
        subjects=tuple(phrases["subjects"]),
        symbols={k: tuple(v) for k, v in vocab["goal_words"].items()},
        synonyms={k: v for k, v in synonyms.items() if v},
    )


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


def _symbols_for(goal: str, words: OfflineWords) -> list[str]:
    goal_words = re.findall(r"[a-z]+", goal.lower())
    found: list[str] = []
    for stem, symbols in words.symbols.items():
        if any(w.startswith(stem) for w in goal_words):
            found += [s for s in symbols if s not in found]
    return found


def _offline_source(seed: int) -> str:
    return f"the offline vocabulary (seed {seed})"


def offline_prompts(
    goal: str, *, count: int = 6, seed: int | None = None, words: OfflineWords = VIDEOGRAPHY
) -> Ideas:
    """Subjects suggested by the goal's words (else the goal itself, unless `words` is a
    closed vocabulary), dressed with shot, lighting, palette and medium from the vocabulary.
    Deterministic for a given seed."""
    rng, seed = _rng(seed)
    symbols = _symbols_for(goal, words)
    rng.shuffle(symbols)
    closed = words is not VIDEOGRAPHY
    subjects = symbols[:count] if symbols or closed else [limit_words(goal, 10)]
    extra = [s for s in words.subjects if s not in subjects]
    rng.shuffle(extra)
    subjects += extra[: count - len(subjects)]
    subjects = _draw(rng, subjects, count) if len(subjects) < count else subjects
    shots, lights = _draw(rng, words.shots, count), _draw(rng, words.lighting, count)
    palettes, styles = _draw(rng, words.palettes, count), _draw(rng, words.styles, count)
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


def offline_transitions(
    prompt: str, *, seed: int | None = None, words: OfflineWords = VIDEOGRAPHY
) -> Ideas:
    """Color: a palette added; time: the time of day swapped or added; subject: another
    subject with the same time of day and modifiers; style: a medium added. Deterministic
    for a seed."""
    rng, seed = _rng(seed)
    lower = prompt.lower()
    palettes, times = words.palettes, words.times
    palette = rng.choice([p for p in palettes if p.split()[0] not in lower] or palettes)
    when = rng.choice([t for t in times if t.split()[-1] not in lower] or list(times))
    if _TIME_WORDS.search(prompt):
        timed = _TIME_WORDS.sub(when, prompt, count=1)
    else:
        subject, rest = _split_subject(prompt)
        timed = ", ".join(x for x in (f"{subject} {when}", rest) if x)
    subject, rest = _split_subject(prompt)
    # the time of day written with the subject ("a city skyline at dusk") is not the subject:
    # a subject transition keeps it, as it keeps the modifiers after the comma
    written_time = _TIME_WORDS.search(subject)
    kept_time = f" {written_time.group(0)}" if written_time else ""
    candidates = [
        s
        for s in (_symbols_for(prompt, words) + list(words.subjects))
        if s.lower() != subject.lower()
    ]
    other = rng.choice([s for s in candidates if s.lower() not in lower] or candidates)
    if not rest:
        rest = ", ".join([rng.choice(words.shots), rng.choice(words.lighting)])
    style = rng.choice([s for s in words.styles if s.lower() not in lower] or words.styles)
    ends = {
        "color": _swap_or_add(prompt, words.palettes, palette),
        "time": timed,
        "subject": f"{other}{kept_time}, {rest}",
        # an open vocabulary's styles are fragments ("watercolor" of "watercolor painting")
        "style": _swap_or_add(prompt, words.styles, style)
        if words is not VIDEOGRAPHY
        else f"{prompt}, {style}",
    }
    limit = end_prompt_word_limit(prompt)
    ideas = [Idea(limit_words(ends[k], limit), transition=k) for k in TRANSITION_KINDS]
    return Ideas("transitions", prompt, ideas, _offline_source(seed))


def _swap_or_add(prompt: str, pool: Sequence[str], new: str) -> str:
    """`prompt` with its phrase from `pool` replaced by `new` (two palettes in one prompt
    pull against each other), or `new` added when it has none."""
    for old in sorted(pool, key=len, reverse=True):
        match = re.search(rf"\b{re.escape(old)}\b", prompt, re.I)
        if match:
            return prompt[: match.start()] + new + prompt[match.end() :]
    return f"{prompt}, {new}"


def offline_variations(
    prompt: str, *, count: int = 4, seed: int | None = None, words: OfflineWords = VIDEOGRAPHY
) -> Ideas:
    """Synonyms swapped in, modifiers reordered, a shot size or angle added: the scene
    stays the same. Deterministic for a seed."""
    rng, seed = _rng(seed)
    subject, rest = _split_subject(prompt)
    modifiers = [m.strip() for m in rest.split(",") if m.strip()]

    def synonyms(text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            word = match.group(0)
            choices = words.synonyms.get(word.lower())
            if not choices or rng.random() < 0.3:
                return word
            new = rng.choice(choices)
            return new.capitalize() if word[0].isupper() else new

        return re.sub(r"[A-Za-z]+", swap, text)

    seen = {prompt.lower()}
    out: list[str] = []
    shots = _draw(rng, words.shots, len(words.shots))
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
