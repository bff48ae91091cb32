"""The project file: its pydantic schema, `load_project` and `resolve_intervals`.

`load_project` reports every problem of a project file at once, one `field.path: message`
line each, in words meant for the person who wrote the file (see DESIGN.md, "The project
file"). It reads the song's duration from the file header only, so it stays instant and
never imports torch or librosa.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from gendisco.errors import AudioError, ProjectError, UserError
from gendisco.model_check import BUILTIN_MODELS, RANDOM_PREFIX, looks_like_path
from gendisco.schedulers import scheduler_key
from gendisco.speed import SpeedSettings
from gendisco.yamlfile import one_line, read_yaml_file

__all__ = [
    "HoldSpec",
    "Interval",
    "Project",
    "PromptSpec",
    "ResolvedInterval",
    "format_time",
    "load_project",
    "parse_time",
    "resolve_intervals",
    "schema_json",
]

MAX_SEED = 2**32 - 1  # numpy's legacy seeding and many diffusion tools stop here
TIME_EPS_S = 1e-6  # boundaries closer than this are the same instant
MAX_TIME_S = 24 * 3600.0  # a day: longer than any song, short enough for frame arithmetic
TRANSITIONS = ("color", "time", "subject", "style")
X264_PRESETS = Literal[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
]

# Files people pass by mistake where a project belongs: answered with `gendisco init`.
AUDIO_SUFFIXES = frozenset(
    (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wav", ".aif", ".aiff", ".wma")
)

_TIME_RE = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time(value: Any) -> float:
    """Seconds from `12`, `12.5`, `"12.5"`, `"1:05.5"` (m:ss.s) or `"1:02:03.5"` (h:mm:ss.s).

    Raises ValueError for what is not a time; a number too large for a float is not one.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value}; use seconds (12.5) or m:ss.s (1:05.5)")
    try:
        return _seconds(value)
    except OverflowError:
        raise ValueError(
            f"not a time: a number too large; times are at most {MAX_TIME_S:g} s (a day)"
        ) from None


def _seconds(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        match = _TIME_RE.match(text)
        shown = one_line(repr(value), 60)
        if match:
            hours, minutes, seconds = (float(part or 0) for part in match.groups())
            if seconds >= 60 or (match.group(1) is not None and minutes >= 60):
                raise ValueError(f"not a time: {shown}; minutes and seconds must be below 60")
            return hours * 3600 + minutes * 60 + seconds
        raise ValueError(f"not a time: {shown}; use seconds (12.5) or m:ss.s (1:05.5)")
    return value  # let pydantic say what type it expected


def format_time(seconds: float) -> str:
    """`m:ss.s` (or `h:mm:ss.s` from an hour on), the form project files accept."""
    if not math.isfinite(seconds) or abs(seconds) > 1e15:  # no clock reading: say the number
        return f"{seconds:g} s"
    tenths = int(round(seconds * 10))
    minutes, tenths = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{tenths // 10:02d}.{tenths % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"


# Editors (YAML language server) must accept both spellings, so the schema says so.
Seconds = Annotated[
    float,
    BeforeValidator(parse_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_TIME_S},
                {"type": "string", "pattern": r"^(\d+:)?\d+:\d+(\.\d*)?$"},
            ]
        }
    ),
]

Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


def _rules(problems: list[tuple[tuple[str | int, ...], str]]) -> PydanticCustomError:
    """Several cross-field problems, each with its own sub-path, as one pydantic error."""
    summary = "; ".join(
        f"{'.'.join(str(p) for p in loc)}: {msg}" if loc else msg for loc, msg in problems
    )
    return PydanticCustomError("rules", "{summary}", {"summary": summary, "problems": problems})


# a prompt of spaces alone is as empty as "" to the text encoder
NOT_BLANK = r"\S"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class PromptSpec(_Model):
    """One end of a transition: what the picture shows, and the noise it starts from."""

    prompt: str = Field(
        ...,
        pattern=NOT_BLANK,
        description="Text prompt: what the frame shows at this end.",
    )
    seed: Seed | None = Field(
        None,
        description="Noise seed (0 to 2^32-1); same seed, same composition. Default: see "
        "`from` and `to`.",
    )


class HoldSpec(_Model):
    """A hold: one subject that stays on screen and breathes with the beat."""

    prompt: str = Field(..., pattern=NOT_BLANK, description="Text prompt of the held subject.")
    seed: Seed | None = Field(None, description="Noise seed. Default: the project's `seed`.")
    pulse: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="How far the noise swings toward a second noise on each beat; "
        "0 = still picture, higher = stronger pulse.",
    )
    zoom: float = Field(
        1.0,
        ge=1.0,
        le=2.0,
        description="Punch-in factor on each beat, decaying back; 1 = none, higher = harder.",
    )


class Interval(_Model):
    """A stretch of the song: either a transition from one prompt to another, or a hold."""

    start: Seconds = Field(
        ..., ge=0, le=MAX_TIME_S, description='Start in seconds (12.5) or "m:ss.s" ("0:12.5").'
    )
    end: Seconds = Field(
        ..., ge=0, le=MAX_TIME_S, description='End in seconds or "m:ss.s"; greater than start.'
    )
    transition: Literal["color", "time", "subject", "style"] | None = Field(
        None,
        description="What changes from `from` to `to`: color, time (of day or era), "
        "subject or style. Leave out for a hold.",
    )
    hold: HoldSpec | None = Field(
        None, description="Keep one subject on screen, pulsing on beats (instead of a transition)."
    )
    from_: PromptSpec | None = Field(
        None,
        alias="from",
        description="Start of a transition. Leave out to continue from the previous "
        "interval's end prompt and seed. Seed default: the project's `seed`.",
    )
    to: PromptSpec | None = Field(
        None,
        description="End of a transition. Seed default: the start's seed for color, time and "
        "style; start seed + 1 for subject.",
    )
    warp: Literal["onsets", "beats", "linear"] = Field(
        "onsets",
        description="How motion follows the music: onsets (percussive hits), beats (a step "
        "per beat) or linear (steady).",
    )
    reactivity: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="0 = steady motion, 1 = motion only on hits; higher reacts more to the music.",
    )

    @model_validator(mode="after")
    def _check_kind(self) -> Interval:
        problems = _interval_rules(
            self.start,
            self.end,
            has={
                "transition": self.transition is not None,
                "hold": self.hold is not None,
                "from": self.from_ is not None,
                "to": self.to is not None,
            },
        )
        if problems:
            raise _rules(problems)
        return self


def _interval_rules(
    start: float | None, end: float | None, *, has: dict[str, bool]
) -> list[tuple[tuple[str | int, ...], str]]:
    """An interval's cross-field rules; `has` says which of transition/hold/from/to are set.

    Kept apart from the model so that `load_project` can also apply them to an interval
    whose other fields failed, and report everything in one run.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if start is not None and end is not None and end <= start:
        problems.append((("end",), f"must be greater than start ({start:g})"))
    if has["hold"]:
        if has["transition"]:
            problems.append(
                ((), "has both `hold` and `transition`; an interval is one or the other")
            )
        for key in ("from", "to"):
            if has[key]:
                problems.append(
                    ((key,), "not used by a hold; a hold shows `hold.prompt` throughout")
                )
    elif has["transition"]:
        if not has["to"]:
            problems.append((("to",), "required: the prompt this transition ends on"))
    elif has["from"] or has["to"]:
        problems.append(
            (("transition",), "required with from/to: one of color, time, subject, style")
        )
    else:
        problems.append(((), "needs either a `transition` (with from/to) or a `hold`"))
    return problems


def _raw_times(raw: dict) -> tuple[float | None, float | None]:
    """start and end of an interval as written, or None where unreadable."""
    times: list[float | None] = []
    for key in ("start", "end"):
        try:
            value = parse_time(raw.get(key))
        except ValueError:
            value = None
        ok = isinstance(value, (int, float)) and 0 <= value <= MAX_TIME_S  # NaN fails too
        times.append(float(value) if ok else None)
    return times[0], times[1]


def _raw_interval_rules(raw: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """`_interval_rules` on an interval as written in YAML (unreadable times are skipped)."""
    if not isinstance(raw, dict):
        return []
    has = {key: raw.get(key) is not None for key in ("transition", "hold", "from", "to")}
    return _interval_rules(*_raw_times(raw), has=has)


def _timeline(
    intervals: list[tuple[int, Interval]],
) -> tuple[list[tuple[tuple[str | int, ...], str]], list[str]]:
    """Problems and warnings of the intervals' order: sorted, no overlap, first has `from`."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    warnings: list[str] = []
    if intervals and intervals[0][0] == 0:
        first = intervals[0][1]
        if first.transition is not None and first.hold is None and first.from_ is None:
            problems.append(
                (
                    ("intervals", 0, "from"),
                    "required on the first interval: there is no previous interval to continue "
                    "from",
                )
            )
    for (i_prev, prev), (i, cur) in zip(intervals, intervals[1:], strict=False):
        if cur.start < prev.start - TIME_EPS_S:
            problems.append(
                (
                    ("intervals", i, "start"),
                    f"{cur.start:g} comes before intervals.{i_prev} (starts at {prev.start:g}); "
                    "list intervals in time order",
                )
            )
        elif cur.start < prev.end - TIME_EPS_S:
            problems.append(
                (
                    ("intervals", i, "start"),
                    f"{cur.start:g} overlaps intervals.{i_prev}, which ends at {prev.end:g}",
                )
            )
        elif cur.start > prev.end + TIME_EPS_S:
            warnings.append(gap_warning(i_prev, prev.end, i, cur.start))
    return problems, warnings


def gap_warning(
    previous_index: int, previous_end_s: float, index: int, start_s: float, *, snapped: str = ""
) -> str:
    """The warning for time left between two intervals (`snapped`: the grid, e.g. "bars",
    when the times are the snapped ones rather than the written ones)."""
    where = f"{format_time(previous_end_s)}-{format_time(start_s)}"
    if snapped:
        where += f" once snapped to {snapped}"
    return (
        f"intervals.{index}: gap of {round(start_s - previous_end_s, 3):g} s after "
        f"intervals.{previous_index} ({where}); intervals.{previous_index}'s last frame is held "
        "until then"
    )


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = Path((info.context or {}).get("base_dir") or Path.cwd())
    try:
        return (base / value.expanduser()).resolve()
    except RuntimeError:  # `~someone/...` where there is no such user
        raise ValueError(f"{one_line(str(value), 80)}: no home folder for this ~user") from None


class Project(_Model):
    """A gendisco project: a song, how to render it, and its intervals."""

    model_config = ConfigDict(title="gendisco project")

    song: Path = Field(
        ...,
        description="The song: a path relative to the project file. Any format FFmpeg or "
        "libsndfile reads (mp3, m4a, ogg, opus, flac, wav).",
    )
    output: Path | None = Field(
        None,
        description="Folder for clips, manifest and final.mp4, relative to the project file. "
        "Default: `renders/NAME` for a project file `NAME.yaml`.",
    )
    model: str = Field(
        "stabilityai/sd-turbo",
        min_length=1,
        description="Hugging Face hub id, local folder or single-file .safetensors checkpoint "
        "(a path is relative to the project file); "
        "`tiny` = built-in offline model of simple scenes (suns, skylines, grids; very fast).",
    )
    vae: Literal["default", "tiny"] = Field(
        "default",
        description="`tiny` (TAESD) decodes much faster with slightly softer frames.",
    )
    scheduler: str = Field(
        "euler",
        min_length=1,
        description="Diffusers scheduler by short name: euler, euler_a, ddim, dpm++ (or dpm), "
        "dpm++_karras, unipc, lcm, ... (`gendisco validate` lists them all on a typo).",
    )
    width: int = Field(
        512,
        ge=64,
        le=4096,
        multiple_of=8,
        description="Frame width in pixels, a multiple of 8; larger is slower and uses more "
        "memory.",
    )
    height: int = Field(
        512,
        ge=64,
        le=4096,
        multiple_of=8,
        description="Frame height in pixels, a multiple of 8.",
    )
    fps: float = Field(
        24.0,
        gt=0,
        le=120,
        description="Frames per second; higher is smoother and renders proportionally longer.",
    )
    steps: int = Field(
        2,
        ge=1,
        le=200,
        description="Denoising steps per frame; higher is more detailed and slower "
        "(turbo models need 1-4).",
    )
    guidance: float = Field(
        0.0,
        ge=0.0,
        le=50.0,
        description="Classifier-free guidance scale; higher follows the prompt more closely; "
        "0 or 1 = off (right for turbo models, and twice as fast).",
    )
    style: str = Field("", description="Appended to every prompt, e.g. `digital painting, 4k`.")
    negative: str = Field(
        "", description="Negative prompt: what to avoid (used when guidance > 1)."
    )
    seed: Seed = Field(42, description="Default seed for prompts that give none.")
    snap: Literal["none", "beat", "bar"] = Field(
        "none",
        description="Move interval boundaries to the nearest detected beat or bar (downbeat).",
    )
    crf: int = Field(
        18,
        ge=0,
        le=51,
        description="H.264 quality of final.mp4: lower is better quality and bigger files.",
    )
    preset: X264_PRESETS = Field(
        "medium",
        description="H.264 encoder speed: slower presets make smaller files at the same quality.",
    )
    speed: SpeedSettings = Field(
        default_factory=SpeedSettings,
        description="How the model runs (compile, attention, fp8, ...); the defaults are safe. "
        "`gendisco render --speed KEY=VALUE` overrides one for a run.",
    )
    intervals: list[Interval] = Field(
        ...,
        min_length=1,
        description="The timeline: sorted, non-overlapping intervals inside the song.",
    )
    path: SkipJsonSchema[Path | None] = Field(
        None, exclude=True, description="The project file this was loaded from."
    )
    warnings: SkipJsonSchema[list[str]] = Field(
        default_factory=list, exclude=True, description="Non-fatal findings, e.g. gaps."
    )

    @field_validator("song", mode="before")
    @classmethod
    def _song_not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must name an audio file")
        return value

    @field_validator("song", "output", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # no file name can hold one; the OS would refuse the path with a ValueError
        if isinstance(value, str) and "\0" in value:
            raise ValueError("must not contain a NUL character (\\x00)")
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # neither a hub id nor a sensible path holds a newline, tab or NUL
        if isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError(
                "must be a hub id, folder or file name, without control characters "
                "(newline, tab, NUL)"
            )
        return value

    @field_validator("scheduler", mode="after")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        # checked here, not first at the load after the song's analysis; kept as written so
        # the clips' names do not change
        try:
            scheduler_key(value)
        except UserError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("song", "output", mode="after")
    @classmethod
    def _relative_to_project(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve_path(value, info)

    @field_validator("model", mode="after")
    @classmethod
    def _model_folder_relative_to_project(cls, value: str, info: ValidationInfo) -> str:
        """A local model path is relative to the project file, as the song is, so a project
        renders the same from any folder; built-in names and hub ids stay as written."""
        base = (info.context or {}).get("base_dir")
        if base is None or value in BUILTIN_MODELS or value.startswith((RANDOM_PREFIX, "~", "/")):
            return value
        if not looks_like_path(value, Path(base)):
            return value
        try:
            return str((Path(base) / value).resolve())
        except (OSError, ValueError, RuntimeError):  # a NUL, too long: the loader words it
            return value

    @model_validator(mode="after")
    def _check_timeline(self, info: ValidationInfo) -> Project:
        if self.output is None:
            context = info.context or {}
            stem = context.get("stem") or self.song.stem
            base = Path(context.get("base_dir") or Path.cwd())
            self.output = (base / "renders" / stem).resolve()
        problems, warnings = _timeline(list(enumerate(self.intervals)))
        if problems:
            raise _rules(problems)
        self.warnings = warnings
        return self


def schema_json() -> str:
    """The JSON Schema of the project format, as `gendisco schema` prints it."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Project.model_json_schema(by_alias=True),
    }
    return json.dumps(schema, indent=2) + "\n"


# ---------------------------------------------------------------------------------------
# Loading: YAML -> problems by field path -> Project


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _field_at(loc: tuple[str | int, ...]) -> tuple[type[BaseModel], Any] | None:
    """(model, FieldInfo) of the field an error location points at; list indices skipped."""
    model: type[BaseModel] | None = Project
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        field = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return None
        owner = model
        model = _unwrap_model(field.annotation)
    return (owner, field) if field is not None else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if not f.exclude]


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    if not [part for part in loc if isinstance(part, str)]:
        return Project
    found = _field_at(loc)
    return _unwrap_model(found[1].annotation) if found else None


def _literal_choices(annotation: Any) -> list[str]:
    if typing.get_origin(annotation) is Literal:
        return [str(a) for a in typing.get_args(annotation)]
    for arg in typing.get_args(annotation):
        choices = _literal_choices(arg)
        if choices:
            return choices
    return []


def _show(value: Any) -> str:
    """A value as written, short and on one line, for `(got ...)`."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"a number of about {round(value.bit_length() * math.log10(2))} digits"
    if isinstance(value, str):
        return one_line(repr(value), 60)
    return one_line(str(value), 60)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    model = _model_at(loc[:-1])
    key = str(loc[-1])
    if model is None:
        return "unknown key"
    keys = _keys_of(model)
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; expected one of: {', '.join(keys)}"


_MAPPING_HINTS = {
    "from": 'must be a mapping such as {prompt: "a city at dusk", seed: 7}',
    "to": 'must be a mapping such as {prompt: "a city at night", seed: 7}',
    "hold": 'must be a mapping such as {prompt: "a disco ball", seed: 3, pulse: 0.3}',
}


def _message(error: dict[str, Any]) -> str:
    """Pydantic's message for one error, reworded for someone editing a YAML file."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = tuple(error["loc"])
    got = _show(error.get("input"))
    last = loc[-1] if loc else None
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "invalid_key":
        return "unknown key; keys are names such as `song` or `fps`"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "greater_than":
        return f"must be greater than {_num(ctx['gt'])} (got {got})"
    if kind == "greater_than_equal":
        return f"must be at least {_num(ctx['ge'])} (got {got})"
    if kind == "less_than":
        return f"must be less than {_num(ctx['lt'])} (got {got})"
    if kind == "less_than_equal":
        return f"must be at most {_num(ctx['le'])} (got {got})"
    if kind == "multiple_of":
        return f"must be a multiple of {_num(ctx['multiple_of'])} (got {got})"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number (got {got})"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number (got {got})"
    if kind == "finite_number":
        return f"must be a finite number (got {got})"
    if kind == "string_type":
        return f"must be text (got {got}); put it in quotes"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NOT_BLANK:
        return "must not be empty" + (" (it holds only spaces)" if error.get("input") else "")
    if kind in ("path_type", "path_parsing"):
        return f"must be a file path (got {got})"
    if kind == "literal_error":
        found = _field_at(loc)
        choices = _literal_choices(found[1].annotation) if found else []
        if not choices:
            return error["msg"]
        message = f"must be one of {', '.join(choices)} (got {got})"
        given = error.get("input")  # only text can be a misspelt choice
        close = (
            difflib.get_close_matches(given, choices, n=1, cutoff=0.6)
            if isinstance(given, str)
            else []
        )
        return f"{message}; did you mean {close[0]!r}?" if close else message
    if kind == "list_type":
        if loc == ("intervals",):
            return f"must be a list of intervals, each starting with '- start:' (got {got})"
        return f"must be a list (got {got})"
    if kind == "too_short":
        return "needs at least one interval" if loc == ("intervals",) else "must not be empty"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if last in _MAPPING_HINTS:
            return f"{_MAPPING_HINTS[last]} (got {got})"
        return f"must be a mapping of keys (got {got})"
    return str(error["msg"]).replace("Input should be", "should be")


def _problems(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """One `path: message` line per problem in a pydantic ValidationError."""
    lines = []
    for item in error.errors():
        loc = prefix + tuple(item["loc"])
        if item["type"] == "rules":
            pairs = [(loc + tuple(sub), msg) for sub, msg in item["ctx"]["problems"]]
        else:
            pairs = [(loc, _message({**item, "loc": loc}))]
        for where, message in pairs:
            path = _field_path(where)
            lines.append(f"{path}: {message}" if path else message)
    return lines


def _field_path(loc: tuple[Any, ...]) -> str:
    """`intervals.2.end`; a key that is not a plain word is shown quoted and shortened."""
    parts = []
    for part in loc:
        text = str(part)
        if text and len(text) <= 40 and all(c.isalnum() or c in "_-" for c in text):
            parts.append(text)
        else:  # quoted, so that a `.` or `: ` in it cannot be mistaken for the path's own
            parts.append(one_line(repr(text[:30]) + ("..." if len(text) > 30 else "")))
    return ".".join(parts)


def _song_problem(song: Path) -> tuple[str | None, float | None]:
    """(problem, duration in seconds) of the song file, from its header only."""
    from gendisco.audio import probe_duration

    try:
        if not song.exists():
            return f"song: file not found: {song}", None
        duration = probe_duration(song)
    except AudioError as error:
        return f"song: {error}", None
    except OSError as error:  # a name longer than the OS allows, a folder we may not enter
        return f"song: cannot use this path ({error.strerror or error}): {song}", None
    if not duration > 0:  # NaN from a broken header too
        return f"song: {song} holds no audio (duration 0)", None
    return None, duration


_TYPO_RE = re.compile(r"^((?:[^:]*\.)?)[^.:]+: unknown key; did you mean '([^']+)'\?$")


def _without_follow_ons(problems: list[str]) -> list[str]:
    """Drop "X is required" where a misspelt key already suggests X: one typo, one line."""
    suggested = set()
    for line in problems:
        match = _TYPO_RE.match(line)
        if match:
            parent, key = match.group(1), match.group(2)
            suggested.add(parent + key)
            if key in ("transition", "hold"):
                suggested.add(parent.rstrip(".") + ":needs")
    kept = []
    for line in problems:
        where, _, message = line.partition(": ")
        if message.startswith("required") and where in suggested:
            continue
        if message.startswith("needs either") and f"{where}:needs" in suggested:
            continue
        kept.append(line)
    return kept


def _interval_sort_key(line: str) -> tuple[int, int]:
    match = re.match(r"intervals\.(\d+)", line)
    return (1, int(match.group(1))) if match else (0, 0)


def load_project(path: str | Path, *, check_song: bool = True) -> Project:
    """Read and validate a project file; paths in it are resolved relative to its folder.

    Raises `ProjectError` listing every problem found (`field.path: message` each), or
    `UserError` when the file itself is missing. With `check_song`, the song must exist and
    every interval must end within its duration (read from the file header, so this stays
    fast).
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        found = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        such = f", such as {found[0]}" if found else ""
        raise UserError(f"{path}: is a folder; give a project file (.yaml){such}")
    if not path.exists():
        raise UserError(f"{path}: project file not found")
    if path.suffix.lower() in AUDIO_SUFFIXES:
        raise UserError(
            f"{path}: is a song, not a project file; make a project for it with "
            f"`gendisco init {shlex.quote(str(path))}`"
        )

    # 1. YAML: syntax, then the shape of the top level
    data, problems = read_yaml_file(path)
    if data is None:
        raise ProjectError(
            ["the file is empty; a project needs at least `song` and `intervals`"], source
        )
    if not isinstance(data, dict):
        shape = "a mapping of keys (song: ..., intervals: ...)"
        raise ProjectError([f"the top level must be {shape}, not {_show(data)}"], source)
    for name, field in Project.model_fields.items():
        if field.exclude and name in data:  # set by the loader, never by the file
            problems.append(f"{name}: {_unknown_key((name,))}")
            del data[name]

    # 2. Fields, per-interval rules and the timeline
    folder = path.resolve().parent
    project: Project | None = None
    try:
        project = Project.model_validate(data, context={"base_dir": folder, "stem": path.stem})
        intervals = list(enumerate(project.intervals))
        fps = project.fps
    except ValidationError as error:
        problems.extend(_problems(error))
        intervals, more = _partial_checks(data, error)
        problems.extend(more)
        fps = data.get("fps")
        fps = fps if isinstance(fps, (int, float)) and 0 < fps <= 120 else 24.0

    # 3. The song: exists, is audio, and the intervals end inside it
    song = project.song if project else _raw_song(data, folder)
    if check_song and song is not None:
        problem, duration_s = _song_problem(song)
        if problem:
            problems.insert(0, problem)
        elif duration_s is not None:
            problems.extend(_past_the_end(intervals, duration_s, fps))

    if problems:
        problems = _without_follow_ons(problems)
        problems.sort(key=_interval_sort_key)
        # paths and values quoted in a message may hold newlines: one problem, one line
        raise ProjectError([one_line(problem, 1000) for problem in problems], source)
    assert project is not None
    project.path = path.resolve()
    return project


def _partial_checks(
    data: dict, error: ValidationError
) -> tuple[list[tuple[int, Interval]], list[str]]:
    """The intervals whose times are readable, and the rules pydantic skipped.

    Pydantic runs a model's own rules only once all its fields passed, so a project with a
    bad `fps` would not be checked for overlaps; apply the rules here so that one run lists
    every problem.
    """
    raw_intervals = data.get("intervals")
    if not isinstance(raw_intervals, list):
        return [], []
    extra: list[tuple[tuple[str | int, ...], str]] = []
    valid: list[tuple[int, Interval]] = []
    for i, raw in enumerate(raw_intervals):
        try:
            valid.append((i, Interval.model_validate(raw)))
        except ValidationError as interval_error:
            if not any(item["type"] == "rules" for item in interval_error.errors()):
                extra.extend((("intervals", i, *loc), msg) for loc, msg in _raw_interval_rules(raw))
            start, end = _raw_times(raw) if isinstance(raw, dict) else (None, None)
            if start is not None and end is not None:
                # its times are readable: still check it against its neighbours and the song
                stand_in = Interval.model_construct(
                    start=start,
                    end=end,
                    transition=raw.get("transition"),
                    hold=raw.get("hold"),
                    from_=raw.get("from"),
                )
                valid.append((i, stand_in))
    timeline_checked = any(item["type"] == "rules" and not item["loc"] for item in error.errors())
    if not timeline_checked:
        extra.extend(_timeline(valid)[0])
    return valid, [f"{'.'.join(str(p) for p in loc)}: {msg}" for loc, msg in extra]


def _raw_song(data: dict, folder: Path) -> Path | None:
    song = data.get("song")
    if not isinstance(song, str) or not song.strip() or "\0" in song:
        return None
    try:
        return (folder / Path(song).expanduser()).resolve()
    except (RuntimeError, OSError):  # no such ~user; the field's own error says so
        return None


def _past_the_end(
    intervals: list[tuple[int, Interval]], duration_s: float, fps: float
) -> list[str]:
    # a container's duration can be a few samples short of what the author measured
    tolerance_s = 1.0 / fps
    return [
        f"intervals.{i}.end: {interval.end:g} is past the end of the song "
        f"({duration_s:.2f} s = {format_time(duration_s)})"
        for i, interval in intervals
        if interval.end > duration_s + tolerance_s
    ]


# ---------------------------------------------------------------------------------------
# Resolving: prompts and seeds per interval, with defaults and continuation applied


@dataclass(frozen=True)
class ResolvedInterval:
    """One interval with every default applied: what the renderer needs, nothing to look up.

    Prompts already carry the project's style. For holds, `to_*` equals `from_*`.
    """

    index: int
    start_s: float
    end_s: float
    kind: Literal["transition", "hold"]
    transition: str | None
    from_prompt: str
    from_seed: int
    to_prompt: str
    to_seed: int
    negative: str
    warp: str
    reactivity: float
    pulse: float
    zoom: float
    continues: bool


def prompt_places(project: Project) -> list[tuple[str, str]]:
    """Every prompt the user wrote, with its field path: (where, prompt)."""
    places = [("style", project.style)] if project.style else []
    for i, interval in enumerate(project.intervals):
        for name, spec in (("from", interval.from_), ("to", interval.to), ("hold", interval.hold)):
            if spec is not None:
                places.append((f"intervals.{i}.{name}.prompt", spec.prompt))
    return places


def unused_settings(project: Project) -> list[str]:
    """Warnings for settings written in the file that change nothing, as the project stands:
    a negative prompt without guidance, motion settings on a hold, a transition that ends
    where it starts."""
    warnings = []
    if project.negative.strip() and project.guidance <= 1.0:
        warnings.append(
            f"negative: not used while guidance is {project.guidance:g}; a negative prompt "
            "needs guidance above 1 (which doubles the model's work per frame)"
        )
    for i, interval in enumerate(project.intervals):
        if interval.hold is None:
            continue
        for key in ("warp", "reactivity"):
            if key in interval.model_fields_set:
                warnings.append(
                    f"intervals.{i}.{key}: not used by a hold, which moves on the beats "
                    "(set hold.pulse and hold.zoom)"
                )
    for item in resolve_intervals(project):
        if item.kind == "transition" and (item.from_prompt, item.from_seed) == (
            item.to_prompt,
            item.to_seed,
        ):
            warnings.append(
                f"intervals.{item.index}: starts and ends on the same prompt and seed, so "
                "its picture does not change (a hold pulses on the beats instead)"
            )
    return warnings


_DEFAULT_WARP = Interval.model_fields["warp"].default
_DEFAULT_REACTIVITY = Interval.model_fields["reactivity"].default


def _styled(prompt: str, style: str) -> str:
    return f"{prompt}, {style}" if style else prompt


def resolve_intervals(project: Project) -> list[ResolvedInterval]:
    """Each interval's prompts and seeds, following DESIGN.md's rules.

    - `from.seed` defaults to the project's seed, as does `hold.seed`;
    - `to.seed` defaults to the `from` seed for color, time and style transitions (the
      composition stays), and to `from` seed + 1 for subject transitions;
    - an omitted `from` continues from the previous interval's end prompt and seed.
    """
    resolved: list[ResolvedInterval] = []
    previous: tuple[str, int] | None = None  # (prompt without style, seed) at the last end
    for index, interval in enumerate(project.intervals):
        if interval.hold is not None:
            hold = interval.hold
            seed = project.seed if hold.seed is None else hold.seed
            start = end = (hold.prompt, seed)
            kind, pulse, zoom, continues = "hold", hold.pulse, hold.zoom, False
            # a hold moves on the beats alone: warp and reactivity written on it change no
            # pixel, so they resolve to the defaults and its clips' names do not follow them
            warp, reactivity = _DEFAULT_WARP, _DEFAULT_REACTIVITY
        else:
            if interval.from_ is not None:
                source = interval.from_
                start = (source.prompt, project.seed if source.seed is None else source.seed)
                continues = False
            elif previous is not None:
                start, continues = previous, True
            else:
                raise ProjectError(
                    [f"intervals.{index}.from: required on the first interval"],
                    str(project.path) if project.path else None,
                )
            assert interval.to is not None  # enforced by Interval's validator
            # a subject change needs new noise, or the old composition shows through
            default_seed = (
                (start[1] + 1) % (MAX_SEED + 1) if interval.transition == "subject" else start[1]
            )
            to_seed = default_seed if interval.to.seed is None else interval.to.seed
            end = (interval.to.prompt, to_seed)
            kind, pulse, zoom = "transition", 0.0, 1.0
            warp, reactivity = interval.warp, interval.reactivity
        resolved.append(
            ResolvedInterval(
                index=index,
                start_s=interval.start,
                end_s=interval.end,
                kind=kind,
                transition=interval.transition if kind == "transition" else None,
                from_prompt=_styled(start[0], project.style),
                from_seed=start[1],
                to_prompt=_styled(end[0], project.style),
                to_seed=end[1],
                negative=project.negative,
                warp=warp,
                reactivity=reactivity,
                pulse=pulse,
                zoom=zoom,
                continues=continues,
            )
        )
        previous = end
    return resolved
