"""`gendisco init`: a first project file cut along a song's structure.

The song is analysed once; interval boundaries go on its section changes (and tempo
changes) and every N bars in between, each on a detected downbeat (a beat where no
downbeat is near), and the intervals cover the song from 0 to its end. Short stretches
become holds, and so does every fourth interval; the other intervals are transitions that
change color, time of day or style within a section and the subject on a section change.
The prompts are placeholders from a small built-in list, or from the brainstorm chain for a
goal. The file is written as commented YAML text and loaded back with `load_project`
before it replaces anything, so what lands on disk always validates.

    result = init_project("song.mp3", "project.yaml", bars=8)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np

from gendisco import wording
from gendisco.audio import AudioAnalysis
from gendisco.errors import AudioError, GendiscoError, ProjectError, UserError
from gendisco.rendering import DRAFT_FPS

__all__ = [
    "DEFAULT_BARS",
    "DEFAULT_MODEL",
    "DRAFT_CPU_START_S",
    "DRAFT_CPU_S_PER_SONG_MINUTE",
    "Planned",
    "Scaffold",
    "Span",
    "draft_hint",
    "init_project",
    "plan_kinds",
    "plan_spans",
    "render_text",
]

DEFAULT_BARS = 8
DEFAULT_MODEL = "stabilityai/sd-turbo"
DEFAULT_SEED = 42
NO_BEAT_BAR_S = 2.0  # bar length assumed without a beat (4 beats at 120 BPM)
# Wall time of `render --draft` on an otherwise idle 2-core CPU with one torch thread: a fixed
# start plus a cost per minute of song (benchmarks/draft_speed.py, "Draft renders" in
# BENCHMARKS.md), for the estimate in the hint. A busy machine takes several times longer.
DRAFT_CPU_START_S = 7.0
DRAFT_CPU_S_PER_SONG_MINUTE = 7.0

Status = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


# 1. Where the boundaries go ---------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """One interval of the plan. Times in seconds; `bars` is its length in local bars."""

    start_s: float
    end_s: float
    bars: float
    start_bar: int | None  # 1-based bar number at start (None before the first bar)
    start_why: str  # "song start", "intro", "section change", "tempo change", "N bars"
    ends_on_change: bool  # the next interval starts a section (or a new tempo)


def _meter(beats: np.ndarray, downbeats: np.ndarray) -> int:
    """Beats per bar from where the downbeats sit among the beats (4 when unclear)."""
    if downbeats.size < 2 or beats.size < 2:
        return 4
    index = np.searchsorted(beats, downbeats - 1e-6)
    steps = np.diff(index)
    steps = steps[steps > 0]
    if steps.size == 0:
        return 4
    return int(np.clip(round(float(np.median(steps))), 2, 12))


def plan_spans(analysis: AudioAnalysis, *, bars: int = DEFAULT_BARS, end_s: float) -> list[Span]:
    """Intervals covering [0, end_s]: boundaries at section and tempo changes, else every
    `bars` bars, each inner boundary on a detected downbeat (or beat).

    A stretch left over before a change or the end that is shorter than half of `bars`
    joins the interval before it, so no interval is a stray bar or two.
    """
    if bars < 1:
        raise UserError(f"--bars must be 1 or more, got {bars}")
    beats = analysis.beat_times_s[analysis.beat_times_s < end_s - 1e-3]
    downbeats = analysis.downbeat_times_s[analysis.downbeat_times_s < end_s - 1e-3]
    if beats.size < 2:
        return _plan_without_beats(analysis, bars=bars, end_s=end_s)

    # 1. bar starts: the downbeats, or every `meter` beats from the first
    meter = _meter(beats, downbeats)
    bar_starts = downbeats if downbeats.size >= 2 else beats[::meter]
    beat_s = float(np.median(np.diff(beats)))
    bar_s = float(np.median(np.diff(bar_starts))) if bar_starts.size >= 2 else beat_s * meter

    def local_bar_s(t: float) -> float:
        if bar_starts.size < 2:
            return bar_s
        mids = (bar_starts[1:] + bar_starts[:-1]) / 2
        return float(np.interp(t, mids, np.diff(bar_starts)))

    # bars before the first detected one (a missed first downbeat, a pickup) still count,
    # so phrases are numbered from the song's start as a musician would
    offset = int(round(bar_starts[0] / bar_s)) if bar_starts.size else 0
    half = max(bars / 2.0, 1.0)

    # 2. structural anchors, each moved onto the nearest downbeat (a beat where bars are lost)
    def snap(t: float) -> float:
        if bar_starts.size:
            nearest = float(bar_starts[np.argmin(np.abs(bar_starts - t))])
            if abs(nearest - t) <= local_bar_s(t) * 0.51:
                return nearest
        return float(beats[np.argmin(np.abs(beats - t))])

    # in order of trust: beats are measured more surely than section changes
    candidates: list[tuple[float, str]] = []
    first_bar = float(bar_starts[0]) if bar_starts.size else float(beats[0])
    if first_bar >= max(half * bar_s, 4.0):  # a long intro without beats is its own interval
        candidates.append((first_bar, "intro"))
    # each sustained tempo change the analysis found starts a new tempo segment
    changes = [seg.start_s for seg in analysis.tempo_segments[1:] if seg.start_s < end_s]
    candidates += [(snap(t), "tempo change") for t in changes]
    candidates += [(snap(float(t)), "section change") for t in analysis.section_times_s[1:]]
    anchors: list[tuple[float, str]] = []
    for t, why in candidates:
        room = half * local_bar_s(t) * 0.99
        if t < room or t > end_s - room:
            continue  # too close to the song's start or end to stand alone
        if any(abs(t - a) < room for a, _ in anchors):
            continue  # the same change found twice, or two too close to tell apart
        anchors.append((t, why))
    anchors.sort()

    # 3. every `bars` bars inside each stretch between anchors
    edges = [(0.0, "song start"), *anchors, (end_s, "song end")]
    boundaries: list[tuple[float, str]] = []
    for (a, why_a), (b, _) in pairwise(edges):
        boundaries.append((a, why_a))
        index = np.flatnonzero((bar_starts > a + 1e-6) & (bar_starts < b - 1e-6))
        inside = bar_starts[index]
        if a == 0.0:
            numbers = index + offset  # bars since the song's start
        else:  # bars since the anchor; a part bar after an anchor between bars counts as one
            first = int(np.searchsorted(bar_starts, a - 1e-6))
            on_bar = first < bar_starts.size and abs(bar_starts[first] - a) < 1e-6
            numbers = index - first + (0 if on_bar else 1)
        last = a
        for t, k in zip(inside, numbers, strict=True):
            t = float(t)
            if k == 0 or k % bars:
                continue
            room = half * local_bar_s(t) * 0.99
            if t - last >= room and b - t >= room:
                boundaries.append((t, f"{bars} bars"))
                last = t

    # 4. the spans, with bar numbers for the comments
    spans: list[Span] = []
    anchor_times = {t for t, _ in anchors}
    for i, (start, why) in enumerate(boundaries):
        end = boundaries[i + 1][0] if i + 1 < len(boundaries) else end_s
        number = int(np.searchsorted(bar_starts, start + 1e-6)) + offset or None
        length = _bars_between(bar_starts, start, end, local_bar_s)
        spans.append(Span(start, end, length, number, why, end in anchor_times))
    return spans


def _bars_between(
    bar_starts: np.ndarray, start: float, end: float, local_bar_s: Callable[[float], float]
) -> float:
    """Length of [start, end] in bars: whole bars counted, the ends as fractions."""
    inside = bar_starts[(bar_starts >= start - 1e-6) & (bar_starts <= end + 1e-6)]
    if inside.size < 2:
        return (end - start) / local_bar_s((start + end) / 2)
    whole = inside.size - 1
    head = (inside[0] - start) / local_bar_s(start)
    tail = (end - inside[-1]) / local_bar_s(end)
    return float(whole + head + tail)


def _plan_without_beats(analysis: AudioAnalysis, *, bars: int, end_s: float) -> list[Span]:
    """No beat to align to: sections, and a fixed grid of `bars` 120-BPM bars between."""
    step = bars * NO_BEAT_BAR_S
    cuts = {float(t) for t in analysis.section_times_s[1:] if step / 2 <= t <= end_s - step / 2}
    times = sorted({0.0, *cuts})
    grid: list[tuple[float, str]] = []
    for a, b in pairwise([*times, end_s]):
        grid.append((a, "section change" if a in cuts else "song start"))
        t = a + step
        while b - t >= step / 2:
            grid.append((t, f"{bars} bars"))
            t += step
    return [
        Span(a, b, (b - a) / NO_BEAT_BAR_S, None, why, b in cuts)
        for (a, why), b in zip(grid, [t for t, _ in grid[1:]] + [end_s], strict=True)
    ]


# 2. What each interval does ---------------------------------------------------------------

Kind = Literal["hold", "color", "time", "style", "subject"]
CYCLE: tuple[Kind, ...] = ("color", "time", "style")


def plan_kinds(spans: Sequence[Span], *, bars: int = DEFAULT_BARS) -> list[Kind]:
    """Hold or transition kind per span.

    1. A span of at most half of `bars` (a short section, a break) is a hold: emphasis.
    2. A transition that ends on a section or tempo change changes the subject, so the new
       subject arrives with the new section.
    3. After three transitions in a row, a hold, so the picture rests now and then.
    4. Otherwise color, time and style take turns.
    """
    kinds: list[Kind] = []
    run = 0  # transitions since the last hold
    turn = 0
    for span in spans:
        if span.bars <= bars / 2 + 0.25:
            kind: Kind = "hold"
        elif span.ends_on_change:
            kind = "subject"
        elif run >= 3:
            kind = "hold"
        else:
            kind = CYCLE[turn % len(CYCLE)]
            turn += 1
        run = 0 if kind == "hold" else run + 1
        kinds.append(kind)
    return kinds


# 3. Prompts ---------------------------------------------------------------------------------

SUBJECTS = (
    "a city skyline",
    "a mirror disco ball",
    "a flock of flamingos over the sea",
    "a desert highway",
    "a lighthouse on a cliff",
    "a field of sunflowers",
    "a jellyfish drifting in deep water",
    "a crowded dance floor",
    "a mountain lake",
    "a vintage convertible",
)
TIMES = ("at dusk", "at night", "at dawn", "at noon", "in a snowstorm", "at golden hour")
COLORS = (
    "neon pink and teal",
    "gold and deep blue",
    "black and white",
    "sunset orange and purple",
    "acid green and magenta",
    "pastel blue and peach",
)
STYLES = (
    "watercolor painting",
    "pencil sketch",
    "ukiyo-e woodblock print",
    "1980s synthwave poster",
    "claymation still",
    "oil painting, thick brushstrokes",
)


@dataclass
class _Look:
    subject: str
    time: str
    color: str = ""
    style: str = ""

    def prompt(self) -> str:
        return ", ".join(p for p in (f"{self.subject} {self.time}", self.color, self.style) if p)


@dataclass(frozen=True)
class PromptWords:
    """The pools placeholder prompts are drawn from."""

    subjects: tuple[str, ...] = SUBJECTS
    times: tuple[str, ...] = TIMES
    colors: tuple[str, ...] = COLORS
    styles: tuple[str, ...] = STYLES


def prompt_words(model: str) -> PromptWords:
    """The built-in `tiny` model gets words it was trained on; other models the full list."""
    if model != "tiny":
        return PromptWords()
    from gendisco.tinymodel.vocabulary import plain_phrases

    phrases = plain_phrases()
    return PromptWords(
        subjects=tuple(phrases["subjects"]),
        times=tuple(phrases["times"]),
        colors=tuple(phrases["colors"]),
        styles=tuple(phrases["styles"]),
    )


class Placeholders:
    """The built-in placeholder prompts: a subject with a time of day, a palette and a
    medium that the transitions swap one at a time."""

    source = "the built-in placeholder list"

    def __init__(self, words: PromptWords | None = None) -> None:
        self._words = words or PromptWords()
        self._looks: dict[str, _Look] = {}
        self._turns = {"color": 0, "time": 1, "style": 0}

    def subject(self, index: int, previous: str | None) -> str:
        words = self._words
        before = self._looks.get(previous or "", _Look("", words.times[0]))
        subjects = words.subjects
        look = _Look(subjects[index % len(subjects)], before.time, before.color, before.style)
        return self._keep(look)

    def end(self, prompt: str, kind: str) -> str:
        look = self._looks[prompt]
        words = self._words
        pool = {"color": words.colors, "time": words.times, "style": words.styles}[kind]
        current = getattr(look, kind)
        choices = [p for p in pool if p != current]
        new = choices[self._turns[kind] % len(choices)]
        self._turns[kind] += 1
        fields = {"subject": look.subject, "time": look.time, "color": look.color}
        fields["style"] = look.style
        fields[kind] = new
        return self._keep(_Look(**fields))

    def _keep(self, look: _Look) -> str:
        text = look.prompt()
        self._looks[text] = look
        return text


class Brainstormed:
    """Prompts from the brainstorm chain for a goal: subjects from its prompt ideas, ends of
    color, time and style transitions from its transition ideas (the LLM, or the offline
    vocabulary when `llm` is None)."""

    def __init__(
        self, goal: str, *, count: int, llm, seed: int | None, status: Status, model: str = ""
    ):
        from gendisco import brainstorm

        self._brainstorm = brainstorm
        self._goal, self._llm, self._seed, self._status = goal, llm, seed, status
        self._words = brainstorm.offline_words(model)
        ideas = brainstorm.brainstorm_prompts(
            goal, llm=llm, count=max(1, count), seed=seed, status=status, words=self._words
        )
        self.source = ideas.source
        self._subjects = ideas.prompts or [goal]
        self._ends: dict[str, dict[str, str]] = {}

    def subject(self, index: int, previous: str | None) -> str:
        return self._subjects[index % len(self._subjects)]

    def end(self, prompt: str, kind: str) -> str:
        if prompt not in self._ends:
            ideas = self._brainstorm.brainstorm_transitions(
                prompt,
                llm=self._llm,
                goal=self._goal,
                seed=self._seed,
                status=self._status,
                words=self._words,
            )
            self._ends[prompt] = {idea.transition: idea.prompt for idea in ideas.ideas}
        return self._ends[prompt].get(kind) or prompt


@dataclass(frozen=True)
class Planned:
    """One interval of the scaffold, ready to be written."""

    span: Span
    kind: Kind
    from_prompt: str | None  # a transition's explicit start (None: continues)
    from_seed: int | None
    to_prompt: str  # a hold's prompt, or a transition's end
    to_seed: int | None  # None: the default (the start's seed for color/time/style)
    cut: bool  # starts on a new subject without a transition into it


def plan_prompts(
    spans: Sequence[Span], kinds: Sequence[Kind], vocabulary, *, seed: int = DEFAULT_SEED
) -> list[Planned]:
    """Prompts and seeds along the plan: each interval starts where the previous ended.

    A section change that no subject transition led into starts on the next subject (a cut
    on the downbeat): a hold shows it, a transition names it as its `from`.
    """
    planned: list[Planned] = []
    subject_index = 0
    prompt = vocabulary.subject(0, None)
    current_seed = seed
    pending_cut = False
    for i, (span, kind) in enumerate(zip(spans, kinds, strict=True)):
        cut = i > 0 and pending_cut
        if cut:
            subject_index += 1
            prompt = vocabulary.subject(subject_index, prompt)
            current_seed = seed + subject_index
        explicit_from = i == 0 or cut
        if kind == "hold":
            planned.append(Planned(span, kind, None, None, prompt, current_seed, cut))
        else:
            if kind == "subject":  # a new subject gets its own seed
                subject_index += 1
                end, end_seed = vocabulary.subject(subject_index, prompt), seed + subject_index
            else:  # color/time/style keep the composition: the start's seed
                end, end_seed = vocabulary.end(prompt, kind), None
            planned.append(
                Planned(
                    span,
                    kind,
                    prompt if explicit_from else None,
                    current_seed if explicit_from else None,
                    end,
                    end_seed,
                    cut,
                )
            )
            prompt = end
            if end_seed is not None:
                current_seed = end_seed
        pending_cut = span.ends_on_change and kind != "subject"
    return planned


def subject_count(spans: Sequence[Span], kinds: Sequence[Kind]) -> int:
    """How many distinct subjects `plan_prompts` will ask for."""
    count, pending = 1, False
    for i, (span, kind) in enumerate(zip(spans, kinds, strict=True)):
        count += (i > 0 and pending) + (kind == "subject")
        pending = span.ends_on_change and kind != "subject"
    return count


# 4. The file ---------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    from gendisco.project import format_time

    return format_time(seconds)


def _scalar(text: str) -> str:
    """`text` as a YAML scalar: bare when it reads back unchanged, else double-quoted."""
    import yaml

    if re.fullmatch(r"[A-Za-z0-9_./@+-][A-Za-z0-9_./@+: -]*", text) and not text.endswith(" "):
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _line(code: str, comment: str = "", column: int = 26) -> str:
    if not comment:
        return code
    return f"{code.ljust(column - 1)} # {comment}"


def _seconds(t: float) -> str:
    text = f"{t:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _relative(target: Path, folder: Path) -> str:
    """`target` relative to `folder` (POSIX slashes), or absolute on another drive."""
    try:
        return Path(os.path.relpath(target.resolve(), folder.resolve())).as_posix()
    except ValueError:
        return target.resolve().as_posix()


def _schema_ref(folder: Path) -> str:
    """Where the YAML language server finds the schema, seen from the project's folder:
    relative when it is close by (a checkout), else absolute (an installed package)."""
    schema = Path(__file__).resolve().parent / "project.schema.json"
    try:
        apart = os.path.commonpath([schema, folder.resolve()]) == schema.anchor
    except ValueError:  # another drive
        apart = True
    return schema.as_posix() if apart else _relative(schema, folder)


def _render_settings(model: str) -> dict[str, tuple[str, str]]:
    """Size, steps and guidance that suit the model family, with their comments."""
    name = model.lower()
    fast = model == "tiny" or any(w in name for w in ("turbo", "lcm", "lightning", "hyper"))
    xl = "xl" in name and not fast
    size = "1024" if xl else "512"
    if fast:
        steps = ("2", "denoising steps per frame: higher = more detail, slower (turbo: 1-4)")
        guidance = ("0.0", "higher = follows the prompt more closely; 0 or 1 = off, 2x faster")
    else:
        steps = ("25", "denoising steps per frame: higher = more detail, slower")
        guidance = ("7.5", "higher = follows the prompt more closely; 0 or 1 = off, 2x faster")
    return {
        "width": (size, "larger = more detail, slower, more memory (multiples of 8)"),
        "height": (size, ""),
        "steps": steps,
        "guidance": guidance,
    }


def draft_hint(project_ref: str, duration_s: float) -> str:
    """The command for a quick look at the project, and roughly how long it takes."""
    estimate = wording.duration(DRAFT_CPU_START_S + DRAFT_CPU_S_PER_SONG_MINUTE * duration_s / 60)
    return (
        f"gendisco render {shlex.quote(project_ref)} --draft "
        f"(small frames, {DRAFT_FPS:g} fps, the built-in tiny model; about {estimate} for "
        "this song on a 2-core CPU, kept apart from the real render)"
    )


def render_text(
    planned: Sequence[Planned],
    *,
    analysis: AudioAnalysis,
    song_ref: str,
    out_ref: str,
    output_ref: str,
    schema_ref: str,
    model: str,
    bars: int,
    seed: int,
    source: str,
    command: str,
) -> str:
    """The project file as commented YAML text."""
    sections = [float(t) for t in analysis.section_times_s]
    tempo = f"{analysis.tempo_bpm:.1f} BPM" if analysis.tempo_bpm else "no steady beat"
    meter = _meter(analysis.beat_times_s, analysis.downbeat_times_s)
    holds = sum(p.kind == "hold" for p in planned)
    settings = _render_settings(model)
    placeholder = source == Placeholders.source
    lines = [
        f"# Render: gendisco render {shlex.quote(out_ref)}",
        f"# yaml-language-server: $schema={schema_ref}",
        "#",
    ]
    quoted = shlex.quote(out_ref)
    about = [
        f"Made by `{command}`: {tempo}, {meter} beats to the bar, "
        f"{_clock(analysis.duration_s)} long, {len(sections)} "
        f"section{'s' if len(sections) != 1 else ''} "
        f"(at {', '.join(_clock(t) for t in sections)}).",
        "Interval boundaries sit on detected downbeats: at each section (or tempo) change "
        f"and every {bars} bars in between. {wording.count(len(planned), 'interval')}: "
        f"{wording.count(len(planned) - holds, 'transition')} and "
        f"{wording.count(holds, 'hold')} (short stretches and every "
        "fourth interval rest on one subject); color, time and style change within a "
        "section, the subject at a section change. Later intervals leave out `from`: each "
        "continues where the last one ended.",
        "Every prompt is a PLACEHOLDER: replace them with your own "
        '(`gendisco brainstorm "your song"` has ideas; `gendisco preview "a prompt" '
        f"--seeds 8` picks a seed), then `gendisco validate {quoted}`."
        if placeholder
        else f"Prompts from {source}: edit freely "
        '(`gendisco preview "a prompt" --seeds 8` picks a seed).',
        f"A quick look first: {draft_hint(out_ref, analysis.duration_s)}.",
    ]
    for paragraph in about:
        lines += textwrap.wrap(
            paragraph, width=96, initial_indent="# ", subsequent_indent="# ",
            break_on_hyphens=False, break_long_words=False,
        )  # fmt: skip
    lines += [
        "",
        _line(f"song: {_scalar(song_ref)}", "relative to this file"),
        _line(
            f"output: {_scalar(output_ref)}",
            "clips, render.json and final.mp4 go here (relative to this file)",
        ),
        _line(
            f"model: {_scalar(model)}",
            "hub id, local folder or .safetensors file; `tiny` = built-in offline model",
        ),
        _line("vae: default", "`tiny` decodes faster, frames slightly softer"),
        _line("scheduler: euler", "any diffusers scheduler by short name: euler, ddim, dpm++, lcm"),
        _line(f"width: {settings['width'][0]}", settings["width"][1]),
        _line(f"height: {settings['height'][0]}", settings["height"][1]),
        _line("fps: 24", "higher = smoother motion, proportionally longer render"),
        _line(f"steps: {settings['steps'][0]}", settings["steps"][1]),
        _line(f"guidance: {settings['guidance'][0]}", settings["guidance"][1]),
        _line('style: ""', 'appended to every prompt, e.g. "digital painting, vivid colors"'),
        _line('negative: ""', 'what to avoid, e.g. "blurry, text"; used when guidance > 1'),
        _line(f"seed: {seed}", "default seed for prompts without one"),
        _line("snap: none", "beat | bar: move boundaries you edit onto the nearest beat / bar"),
        _line("crf: 18", "lower = better quality, bigger file (18 is visually lossless)"),
        _line("preset: medium", "slower presets = smaller file at the same quality"),
        "",
        "intervals:",
    ]
    explained: set[str] = set()
    for index, item in enumerate(planned):
        lines += _interval_lines(index, item, bars=bars, explained=explained)
    return "\n".join(lines) + "\n"


def _interval_lines(index: int, item: Planned, *, bars: int, explained: set[str]) -> list[str]:
    span = item.span
    what = "hold" if item.kind == "hold" else f"{item.kind} transition"
    length = f"{span.bars:.0f} bars" if abs(span.bars - round(span.bars)) < 0.2 else ""
    length = length or f"{span.bars:.1f} bars"
    heading = f"  # {index}: {what}, {length}, {_clock(span.start_s)}-{_clock(span.end_s)}"
    if span.start_why in ("section change", "tempo change", "intro"):
        heading += f", starts on the {span.start_why}"
    if item.cut:
        heading += " (a cut to a new subject)"
    bar = f", bar {span.start_bar}" if span.start_bar else ""
    where = f"{_clock(span.start_s)}{bar}"
    lines = [
        *([""] if index else []),
        heading,
        _line(f"  - start: {_seconds(span.start_s)}", where if index else 'seconds, or "m:ss.s"'),
        _line(f"    end: {_seconds(span.end_s)}", _clock(span.end_s)),
    ]
    if item.kind == "hold":
        note = (
            ""
            if "pulse" in explained
            else ("pulse: higher = stronger swing on each beat; zoom: higher = harder punch-in")
        )
        explained.add("pulse")
        lines.append(
            f"    hold: {{prompt: {json.dumps(item.to_prompt, ensure_ascii=False)}, "
            f"seed: {item.to_seed}, pulse: 0.3, zoom: 1.04}}"
        )
        if note:
            lines.append(f"    # {note}")
        return lines
    first = "transition" not in explained
    explained.add("transition")
    lines.append(
        _line(
            f"    transition: {item.kind}",
            "color | time | subject | style: what changes from `from` to `to`" if first else "",
        )
    )
    if item.from_prompt is not None:
        lines.append(
            f"    from: {{prompt: {json.dumps(item.from_prompt, ensure_ascii=False)}, "
            f"seed: {item.from_seed}}}"
        )
    elif "continues" not in explained:
        explained.add("continues")
        lines.append("    # no `from`: starts on the previous interval's last picture")
    to = f"    to: {{prompt: {json.dumps(item.to_prompt, ensure_ascii=False)}"
    if item.to_seed is not None:
        to += f", seed: {item.to_seed}"
    lines.append(to + "}")
    if item.kind == "subject" and "subject" not in explained:
        explained.add("subject")
        lines.append("    # a new subject needs its own seed; color/time/style keep the start's")
    warp = "onsets"
    lines.append(
        _line(
            f"    warp: {warp}",
            "onsets | beats | linear: how the motion follows the music" if first else "",
        )
    )
    lines.append(
        _line(
            "    reactivity: 0.75",
            "higher = moves more on drum hits, less in between (0 = steady)" if first else "",
        )
    )
    return lines


# 5. The command -------------------------------------------------------------------------------


@dataclass
class Scaffold:
    """What `init_project` wrote."""

    path: Path
    analysis: AudioAnalysis
    intervals: list[Planned]
    source: str  # where the prompts came from
    meter: int
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> int:
        return sum(item.kind == "hold" for item in self.intervals)


def _song_end(song: Path, analysis: AudioAnalysis) -> float:
    """The last instant every reader agrees the song reaches, to the millisecond below."""
    from gendisco.audio import probe_duration

    end = analysis.duration_s
    with contextlib.suppress(AudioError):  # no duration in the header: the decoded one
        end = min(end, probe_duration(song))
    return int(end * 1000) / 1000


def init_project(
    song: str | Path,
    out: str | Path = "project.yaml",
    *,
    bars: int = DEFAULT_BARS,
    model: str = DEFAULT_MODEL,
    goal: str | None = None,
    llm=None,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    command: str | None = None,
    status: Status = _quiet,
) -> Scaffold:
    """Analyse `song` and write a project file to `out` whose intervals follow its structure.

    `goal` fills the prompts from the brainstorm chain (`llm`, or the offline vocabulary
    when `llm` is None); without it they are placeholders. Raises UserError when `out`
    exists (unless `force`) and AudioError when the song cannot be read. The file is loaded
    back with `load_project` before it takes `out`'s place.
    """
    from gendisco.audio import analyze, check_song_file
    from gendisco.project import load_project

    song, out = Path(song), Path(out)
    if bars < 1:
        raise UserError(f"--bars must be 1 or more, got {bars}")
    check_song_file(song)
    if out.is_dir():
        raise UserError(f"{out} is a folder; give a file name such as {out / 'project.yaml'}")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; use --force to overwrite it")
    if goal is not None and not goal.strip():
        raise UserError("--from-brainstorm needs a goal, e.g. a song title and a mood")

    # 1. analyse and cut along the structure
    status(f"analysing {song}")
    analysis = analyze(song)
    end_s = _song_end(song, analysis)
    if end_s <= 0:
        raise AudioError(f"{song}: holds no audio")
    spans = plan_spans(analysis, bars=bars, end_s=end_s)
    kinds = plan_kinds(spans, bars=bars)

    # 2. prompts along the plan
    if goal is not None:
        vocabulary = Brainstormed(
            goal,
            count=subject_count(spans, kinds),
            llm=llm,
            seed=seed,
            status=status,
            model=model,
        )
    else:
        vocabulary = Placeholders(prompt_words(model))
    planned = plan_prompts(spans, kinds, vocabulary, seed=seed)

    # 3. write next to the destination, check, then move into place
    folder = out.parent if str(out.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    text = render_text(
        planned,
        analysis=analysis,
        song_ref=_relative(song, folder),
        out_ref=str(out),
        output_ref=f"renders/{out.stem}",
        schema_ref=_schema_ref(folder),
        model=model,
        bars=bars,
        seed=seed,
        source=vocabulary.source,
        command=command or f"gendisco init {shlex.quote(str(song))}",
    )
    partial = folder / f".{out.name}.{os.getpid()}.partial.yaml"
    try:
        partial.write_text(text, encoding="utf-8")
        try:
            load_project(partial)
        except ProjectError as error:  # a scaffold that does not load is our mistake
            raise GendiscoError(
                "the scaffolded project does not validate: " + "; ".join(error.problems)
            ) from None
        if out.exists() and not force:  # appeared while the song was being analysed
            raise UserError(f"{out} already exists; use --force to overwrite it")
        partial.replace(out)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    meter = _meter(analysis.beat_times_s, analysis.downbeat_times_s)
    return Scaffold(out, analysis, planned, vocabulary.source, meter)
