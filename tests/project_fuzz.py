"""Mutated project files, and what `load_project` must answer for each.

Hypothesis strategies that start from valid projects (the shipped examples and generated
ones) and break them: values replaced by every other kind of YAML value (huge, negative,
NaN and infinite numbers, huge integers, long strings, NULs, nested lists and mappings,
null, booleans, dates), keys deleted, added and duplicated, and the text itself mangled
(tabs, stray YAML syntax, invalid UTF-8, deep nesting, alias bombs, tags PyYAML cannot
build). `outcome(path)` loads one file and raises AssertionError unless the answer is a
project or gendisco's own error, one line per problem, each naming where.

Run on its own for a long local campaign (random seed, failures written to a folder):

    .venv/bin/python tests/project_fuzz.py --examples 1000
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import re
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import yaml
from hypothesis import strategies as st

from gendisco.errors import ProjectError, UserError
from gendisco.model_check import model_warnings
from gendisco.project import Interval, Project, load_project
from gendisco.speed import SpeedSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO_ROOT / "projects").rglob("*.yaml"))
SONG_S = 10.0

PROJECT_KEYS = [f.alias or name for name, f in Project.model_fields.items() if not f.exclude]
INTERVAL_KEYS = [f.alias or name for name, f in Interval.model_fields.items()]
SPEED_KEYS = list(SpeedSettings.model_fields)
KEY_NAMES = sorted({*PROJECT_KEYS, *INTERVAL_KEYS, *SPEED_KEYS, "prompt", "seed", "pulse", "zoom"})


class Raw(str):
    """Text written into the YAML as is (no quoting): `2001-13-45`, `!!int abc`, 5,000 digits."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    Raw, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", f"\0RAW{value}\0")
)


def dump(document: Any) -> str:
    """YAML text of `document`, with `Raw` values spliced in unquoted."""
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10**9)
    # a Raw value was written as the double-quoted scalar "\0RAW...\0": read it back, unquoted
    return _RAW_MARK.sub(lambda m: yaml.safe_load(m.group(0))[4:-1], text)


_RAW_MARK = re.compile(r'"\\0RAW(?:[^"\\]|\\.)*?\\0"')


# ------------------------------------------------------------------------------ values

# Values aimed at one kind of field: the likeliest way to reach the code that reads it.
NUMBERS: list[Any] = [
    -1,
    2**32,
    2**64,
    10**400,
    1.0e308,
    -1.0e308,
    5e-324,
    float("inf"),
    float("nan"),
    True,
    "1e400",
    "nan",
    "9" * 400 + ":00",
    "99:99",
    "1:00:00:00",
]
TIMES: list[Any] = [1.0e308, 86401, -1, float("nan"), 10**400, "9" * 400 + ":00", "1:75", "1e400"]
PATHS: list[Any] = [
    "x" * 300 + ".wav",
    ("d" * 250 + "/") * 20 + "song.wav",
    "a/" * 2100 + "song.wav",
    "a\0b.wav",
    "~no-such-user-zz/song.wav",
    "line one\nline two.wav",
    "/dev/null",
    "/",
    "",
    " ",
    10**400,
    [],
]
TARGETED = {
    **dict.fromkeys(["song", "output", "model"], PATHS),
    **dict.fromkeys(["fps", "width", "seed", "steps", "guidance", "pulse", "zoom", "crf"], NUMBERS),
    **dict.fromkeys(["start", "end"], TIMES),
}

NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**32,
    2**63,
    2**64,
    -(2**63),
    10**30,
    10**400,
    -(10**400),
    0.0,
    -0.0,
    5e-324,
    1.0e308,
    -1.0e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    " ",
    "\t",
    "\n",
    "\0",
    "a\0b.wav",
    "line one\nline two",
    "x" * 300,
    "x" * 5000,
    "a/" * 2100 + "song.wav",
    ("d" * 250 + "/") * 20 + "song.wav",
    "~no-such-user-zz/song.wav",
    "~",
    "/",
    ".",
    "..",
    "/dev/null",
    "1:75",
    "99:99",
    "1:00:00:00",
    "9" * 400 + ":00",
    "9" * 400 + ":00:00",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "-1",
    "0:-5",
    "😀" * 40,
    "\u202eevil",
    "\x1b[31mred",
    "café",
    dt.date(2001, 1, 1),
    dt.datetime(2001, 1, 1, 12, 30),
    b"\x00\xff binary",
    [],
    {},
    [[[]]],
    [None],
    {"prompt": None},
    {"prompt": "a", "seed": -1},
    {"": ""},
    {1: 2},
]

RAW: list[str] = [
    "2001-13-45",
    "2001-02-30 25:61:61",
    "!!int abc",
    "!!float abc",
    "!!binary '###'",
    "!!timestamp 2001-99-99",
    "!!python/object:os.system {}",
    "!!python/name:os.system",
    "!!set {a, b}",
    "!!omap [a: 1, a: 2]",
    "!!str [a]",
    "!!map [a]",
    "!custom tag",
    "9" * 5000,
    "-" + "9" * 5000,
    ":".join(["59"] * 2000),
    "0x" + "f" * 5000,
    "0b2",
    "0o9",
    "1_0_0",
    ".inf",
    "-.inf",
    ".nan",
    "~",
    "*undefined",
    "&a",
    "&a [*a]",
    "&a {k: *a}",
    "{<<: 5}",
    "{<<: [1, 2]}",
    "[a, b",
    "{a: b",
    '"unclosed',
    "'a' b",
    "a: b: c",
    "? [a, b]\n  : c",
    "|\n  multi\n  line",
    ">-\n  folded",
    "%YAML 1.1",
    "--- second",
    "...",
    "@reserved",
    "`backtick",
    "\t\tvalue",
    "- [- [- x]]",
]

scalars = st.one_of(
    st.sampled_from(NASTY),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.booleans(),
    st.none(),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEY_NAMES) | st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = (
    st.sampled_from(KEY_NAMES)
    | st.sampled_from(["", "Song", "intervalls", "from_", "<<"])
    | st.text(max_size=12)
)


# ------------------------------------------------------------------------------ valid projects


def write_song(folder: Path) -> Path:
    """A quiet SONG_S-second wav that generated projects point at."""
    sr = 8000
    t = np.arange(int(SONG_S * sr)) / sr
    path = folder / "song.wav"
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return path


prompts = st.sampled_from(["a city at dusk", "a disco ball", "flamingos", "neon rain"])
seeds = st.integers(0, 2**32 - 1)


@st.composite
def valid_projects(draw: st.DrawFn) -> dict[str, Any]:
    """A valid project document for the song `song.wav` beside it."""
    count = draw(st.integers(1, 4))
    tenths = st.lists(st.integers(0, 99), min_size=count + 1, max_size=count + 1, unique=True)
    bounds = sorted(draw(tenths))
    intervals = []
    for i, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        interval: dict[str, Any] = {"start": start / 10, "end": end / 10}
        if draw(st.booleans()):
            interval["hold"] = {"prompt": draw(prompts), "seed": draw(seeds)}
        else:
            interval["transition"] = draw(st.sampled_from(["color", "time", "subject", "style"]))
            if i == 0 or draw(st.booleans()):
                interval["from"] = {"prompt": draw(prompts), "seed": draw(seeds)}
            interval["to"] = {"prompt": draw(prompts)}
            interval["warp"] = draw(st.sampled_from(["onsets", "beats", "linear"]))
        intervals.append(interval)
    document: dict[str, Any] = {"song": "song.wav"}
    optional = {
        "model": st.sampled_from(["tiny", "stabilityai/sd-turbo", "./models/x"]),
        "fps": st.sampled_from([12, 24, 29.97]),
        "width": st.sampled_from([64, 256, 512]),
        "seed": seeds,
        "snap": st.sampled_from(["none", "beat", "bar"]),
        "style": st.text(max_size=20),
        "speed": st.fixed_dictionaries(
            {},
            optional={
                "attention": st.sampled_from(["sdpa", "math"]),
                "fused_qkv": st.booleans(),
                "channels_last": st.booleans(),
                "feature_reuse": st.integers(1, 4),
            },
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            document[key] = draw(strategy)
    document["intervals"] = intervals
    return document


def shipped_documents() -> list[dict[str, Any]]:
    """The shipped example projects, with `song` pointing at the file they ship with."""
    documents = []
    for path in SHIPPED:
        document = yaml.safe_load(path.read_text())
        document["song"] = str((path.parent / document["song"]).resolve())
        document.pop("output", None)
        documents.append(document)
    return documents


# ------------------------------------------------------------------------------ mutations


def _slots(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a document, outermost first."""
    if isinstance(node, dict):
        for key in list(node):
            out.append((node, key))
            _slots(node[key], out)
    elif isinstance(node, list):
        for index in range(len(node)):
            out.append((node, index))
            _slots(node[index], out)
    return out


@st.composite
def mutated_documents(draw: st.DrawFn, base: st.SearchStrategy) -> Any:
    """A document with one to three structural mutations."""
    document = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(document, [])
        if not slots or draw(st.integers(0, 30)) == 0:
            return draw(values)  # the whole document replaced
        targets = sorted({key for _, key in slots if key in TARGETED})
        if targets and draw(st.integers(0, 2)) == 0:  # a field-specific value in one field
            name = draw(st.sampled_from(targets))
            container, key = draw(st.sampled_from([slot for slot in slots if slot[1] == name]))
            container[key] = draw(st.sampled_from(TARGETED[name]))
            continue
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "replace", "replace", "raw", "delete", "add"]))
        if action == "replace":
            container[key] = draw(values)
        elif action == "raw":
            container[key] = Raw(draw(st.sampled_from(RAW)).replace("\n", " "))
        elif action == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(keys)] = draw(values)
        else:
            container.insert(key, copy.deepcopy(container[key]))  # a repeated interval
    return document


def alias_bomb(levels: int, width: int, *, merge: bool) -> str:
    """`levels` anchors each repeating the previous one `width` times: width**levels values."""
    if merge:
        lines = ["b0: &b0 {a: 1, b: 2}"]
        repeat = [", ".join([f"*b{i - 1}"] * width) for i in range(levels)]
        lines += [f"b{i}: &b{i} {{<<: [{repeat[i]}]}}" for i in range(1, levels)]
    else:
        lines = [f"b0: &b0 [{', '.join(['lol'] * width)}]"]
        lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nstyle: *b{levels - 1}\n"


# invalid UTF-8, a NUL, a lone surrogate, a bare CR, NEL, a BOM in the middle
JUNK_BYTES = [b"\xff", b"\xc3\x28", b"\x00", b"\xed\xa0\x80", b"\r", b"\xc2\x85", b"\xef\xbb\xbf"]

_VALUE_LINE = re.compile(rb"^(\s*(?:- )?[\w-]+: ).+$", re.M)


@st.composite
def mangled_bytes(draw: st.DrawFn, text: str) -> bytes:
    """`text` as bytes with one to three textual mutations."""
    data = text.encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        action = draw(
            st.sampled_from(
                ["raw", "raw", "insert", "tab", "line", "truncate", "bytes", "nest", "bomb", "bom"]
            )
        )
        at = draw(st.integers(0, len(data)))
        if action == "raw":
            lines = list(_VALUE_LINE.finditer(data))
            if lines:
                match = draw(st.sampled_from(lines))
                raw = draw(st.sampled_from(RAW)).encode("utf-8")
                data = data[: match.start()] + match.group(1) + raw + data[match.end() :]
        elif action == "insert":
            chunk = draw(st.text(alphabet=":-[]{}&*!|>'\"%@`#,?\t\n \\", min_size=1, max_size=4))
            data = data[:at] + chunk.encode() + data[at:]
        elif action == "tab":
            data = data[:at] + b"\t" + data[at:]
        elif action == "line":
            lines = data.split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            if draw(st.booleans()):
                lines.insert(i, lines[i])  # duplicated line: often a duplicate key
            else:
                del lines[i]
            data = b"\n".join(lines)
        elif action == "truncate":
            data = data[:at]
        elif action == "bytes":
            junk = draw(st.sampled_from(JUNK_BYTES))
            data = data[:at] + junk + data[at:]
        elif action == "nest":
            depth = draw(st.sampled_from([60, 1000, 100_000]))
            data += b"\nstyle: " + b"[" * depth + b"]" * depth + b"\n"
        elif action == "bomb":
            levels = draw(st.integers(2, 30))
            bomb = alias_bomb(levels, draw(st.integers(2, 9)), merge=draw(st.booleans()))
            data += b"\n" + bomb.encode()
        else:
            data = b"\xef\xbb\xbf" + data
    return data


@st.composite
def project_files(draw: st.DrawFn) -> bytes:
    """The bytes of a broken (or, now and then, still valid) project file."""
    base = st.sampled_from(shipped_documents()) | valid_projects()
    if draw(st.integers(0, 3)) == 0:  # raw text only, from a shipped file or a generated one
        text = draw(st.sampled_from([p.read_text() for p in SHIPPED]) | base.map(dump))
        if text in [p.read_text() for p in SHIPPED]:
            text = text.replace("song: song.ogg", f"song: {SHIPPED[0].parent / 'song.ogg'}")
        return draw(mangled_bytes(text))
    text = dump(draw(mutated_documents(base)))
    return draw(mangled_bytes(text)) if draw(st.booleans()) else text.encode("utf-8")


# ------------------------------------------------------------------------------ the oracle

FILE_LEVEL = re.compile(
    r"^(line \d+|invalid YAML|not a text file|the file is empty|the top level must be)"
)
_PART = r"""(?:[\w-]+|'(?:[^'\\]|\\.)*'(?:\.\.\.)?|"(?:[^"\\]|\\.)*"(?:\.\.\.)?)"""
FIELD_LEVEL = re.compile(rf"^{_PART}(?:\.{_PART})*: \S")


def outcome(path: Path) -> str:
    """ "ok", "ProjectError" or "UserError" for the file at `path`; AssertionError for any
    other exception and for a problem that is not one line naming where."""
    try:
        project = load_project(path)
    except ProjectError as error:
        assert error.problems, "a ProjectError with no problem"
        for line in error.problems:
            assert line and line == line.strip() and len(line) <= 1000, repr(line[:2000])
            assert all(ch.isprintable() for ch in line), f"not one printable line: {line!r}"
            assert FILE_LEVEL.match(line) or FIELD_LEVEL.match(line), f"names no field: {line!r}"
        return "ProjectError"
    except UserError as error:
        assert "\n" not in str(error), repr(str(error))
        return "UserError"
    warnings = model_warnings(project.model, vae=project.vae)  # what `validate` adds
    assert all("\n" not in w for w in warnings), warnings
    return "ok"


def prepare_folder(folder: Path) -> Path:
    """A folder holding the song generated projects use; returns where files are written."""
    write_song(folder)
    return folder / "project.yaml"


def main() -> None:
    from hypothesis import HealthCheck, given, settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--failures", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gendisco-fuzz-"))
    target = prepare_folder(folder)
    counts: Counter[str] = Counter()
    failures: list[tuple[bytes, str]] = []

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=project_files())
    def run(data: bytes) -> None:
        target.write_bytes(data)
        try:
            counts[outcome(target)] += 1
        except Exception as error:
            counts["FAILED"] += 1
            failures.append((data, "".join(traceback.format_exception(error))))

    try:
        run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary = ", ".join(f"{kind} {n}" for kind, n in counts.most_common())
    print(f"{sum(counts.values())} files: {summary}")
    if failures:
        args.failures.mkdir(parents=True, exist_ok=True)
        for i, (data, trace) in enumerate(failures):
            (args.failures / f"{i:04d}.yaml").write_bytes(data)
            (args.failures / f"{i:04d}.txt").write_text(trace)
        print(f"{len(failures)} failures written to {args.failures}/", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
