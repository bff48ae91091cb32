"""`gendisco validate` and `gendisco schema` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendisco.cli import app

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = "projects/demo/demo.yaml"

GOOD_INTERVAL = "  - {start: 0, end: 4, transition: color, from: {prompt: a}, to: {prompt: b}}\n"

# (id, project file text, one entry per reported line: a string, or a tuple of strings that
# the same line must all contain). The song is a 10 s wav called song.wav beside the file.
BAD_PROJECTS = [
    (
        "malformed-yaml",
        "song: song.wav\nintervals: [\n  {start: 0\n",
        [("line 4, column 1", "invalid YAML")],
    ),
    ("tab-indent", "song: song.wav\nintervals:\n\t- start: 0\n", [("line 3", "not tabs")]),
    ("empty-file", "", ["the file is empty"]),
    ("only-comments", "# nothing yet\n", ["the file is empty"]),
    ("top-level-list", "- song.wav\n- 0\n", [("top level must be a mapping", "not a list")]),
    (
        "unknown-key-in-interval",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, transition: color, form: {prompt: a}, to: {prompt: b}}\n",
        ["intervals.0.form: unknown key; did you mean 'from'?"],
    ),
    (
        "unknown-top-level-key",
        "sogn: song.wav\nsteps: 2\nstpes: 4\nintervals:\n" + GOOD_INTERVAL,
        ["sogn: unknown key; did you mean 'song'?", "stpes: unknown key; did you mean 'steps'?"],
    ),
    (
        "unknown-key-without-close-match",
        "song: song.wav\nintervals:\n  - {start: 0, end: 4, hold: {prompt: a, xyzzy: 1}}\n",
        ["intervals.0.hold.xyzzy: unknown key; expected one of: prompt, seed, pulse, zoom"],
    ),
    (
        "loader-field-in-file",
        "song: song.wav\nwarnings: []\nintervals:\n" + GOOD_INTERVAL,
        ["warnings: unknown key"],
    ),
    (
        "duplicate-key",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, end: 5, transition: color, from: {prompt: a}, to: {prompt: b}}\n",
        ["line 3: duplicate key 'end'"],
    ),
    ("song-missing-from-file", "intervals:\n" + GOOD_INTERVAL, ["song: required field is missing"]),
    (
        "song-file-not-found",
        "song: missing.mp3\nintervals:\n" + GOOD_INTERVAL,
        [("song: file not found:", "missing.mp3")],
    ),
    (
        "song-not-audio",
        "song: notes.txt\nintervals:\n" + GOOD_INTERVAL,
        [("song:", "notes.txt", "cannot read")],
    ),
    (
        "end-before-start",
        "song: song.wav\nintervals:\n"
        "  - {start: 8, end: 8, transition: color, from: {prompt: a}, to: {prompt: b}}\n",
        ["intervals.0.end: must be greater than start (8)"],
    ),
    (
        "unsorted",
        "song: song.wav\nintervals:\n"
        + GOOD_INTERVAL
        + "  - {start: 6, end: 8, hold: {prompt: c}}\n  - {start: 4, end: 5, hold: {prompt: d}}\n",
        [("intervals.2.start: 4 comes before intervals.1 (starts at 6)", "time order")],
    ),
    (
        "overlap",
        "song: song.wav\nintervals:\n"
        + GOOD_INTERVAL
        + "  - {start: 3.5, end: 6, hold: {prompt: c}}\n",
        ["intervals.1.start: 3.5 overlaps intervals.0, which ends at 4"],
    ),
    (
        "past-the-song",
        'song: song.wav\nintervals:\n  - {start: 0, end: "0:12", hold: {prompt: a}}\n',
        ["intervals.0.end: 12 is past the end of the song (10.00 s = 0:10.0)"],
    ),
    (
        "fps-zero",
        "song: song.wav\nfps: 0\nintervals:\n" + GOOD_INTERVAL,
        ["fps: must be greater than 0"],
    ),
    (
        "fps-text",
        "song: song.wav\nfps: fast\nintervals:\n" + GOOD_INTERVAL,
        ["fps: must be a number"],
    ),
    (
        "size-not-multiple-of-8",
        "song: song.wav\nwidth: 500\nintervals:\n" + GOOD_INTERVAL,
        ["width: must be a multiple of 8 (got 500)"],
    ),
    (
        "negative-seeds",
        "song: song.wav\nseed: -1\nintervals:\n"
        "  - {start: 0, end: 4, transition: color, from: {prompt: a, seed: -2}, to: {prompt: b}}\n",
        ["seed: must be at least 0 (got -1)", "intervals.0.from.seed: must be at least 0 (got -2)"],
    ),
    (
        "hold-and-transition",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, transition: color, hold: {prompt: a}}\n",
        ["intervals.0: has both `hold` and `transition`"],
    ),
    (
        "hold-with-from",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, hold: {prompt: a}, from: {prompt: b}}\n",
        ["intervals.0.from: not used by a hold"],
    ),
    (
        "transition-without-to",
        "song: song.wav\nintervals:\n  - {start: 0, end: 4, transition: time, from: {prompt: a}}\n",
        ["intervals.0.to: required"],
    ),
    (
        "neither-hold-nor-transition",
        "song: song.wav\nintervals:\n  - {start: 0, end: 4}\n",
        ["intervals.0: needs either a `transition` (with from/to) or a `hold`"],
    ),
    (
        "from-omitted-on-first",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, transition: subject, to: {prompt: b}}\n",
        ["intervals.0.from: required on the first interval"],
    ),
    (
        "misspelt-choice",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, transition: colour, from: {prompt: a}, to: {prompt: b}}\n",
        [("intervals.0.transition: must be one of color, time, subject, style", "'color'?")],
    ),
    (
        "bad-time",
        "song: song.wav\nintervals:\n"
        '  - {start: "0:0x", end: 4, transition: color, from: {prompt: a}, to: {prompt: b}}\n',
        [("intervals.0.start: not a time: '0:0x'", "m:ss.s")],
    ),
    (
        "empty-prompt",
        'song: song.wav\nintervals:\n  - {start: 0, end: 4, hold: {prompt: ""}}\n',
        ["intervals.0.hold.prompt: must not be empty"],
    ),
    (
        "blank-prompts",
        "song: song.wav\nintervals:\n  - {start: 0, end: 2, hold: {prompt: '   '}}\n"
        '  - {start: 2, end: 4, transition: color, from: {prompt: a}, to: {prompt: "\\t"}}\n',
        [
            "intervals.0.hold.prompt: must not be empty (it holds only spaces)",
            "intervals.1.to.prompt: must not be empty (it holds only spaces)",
        ],
    ),
    (
        "prompt-as-plain-text",
        "song: song.wav\nintervals:\n"
        "  - {start: 0, end: 4, transition: color, from: a city, to: {prompt: b}}\n",
        ["intervals.0.from: must be a mapping such as {prompt:"],
    ),
    ("no-intervals", "song: song.wav\nintervals: []\n", ["intervals: needs at least one interval"]),
    (
        "out-of-range-knobs",
        "song: song.wav\ncrf: 60\npreset: quick\nintervals:\n"
        "  - {start: 0, end: 4, hold: {prompt: a, pulse: 2, zoom: 0.5}, reactivity: -1}\n",
        [
            "crf: must be at most 51 (got 60)",
            "preset: must be one of ultrafast",
            "intervals.0.hold.pulse: must be at most 1 (got 2)",
            "intervals.0.hold.zoom: must be at least 1 (got 0.5)",
            "intervals.0.reactivity: must be at least 0 (got -1)",
        ],
    ),
]


@pytest.fixture
def project_dir(tmp_path, make_wav):
    make_wav("song.wav", seconds=10)
    (tmp_path / "notes.txt").write_text("not audio\n")
    return tmp_path


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "GENDISCO_DEBUG": "", **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in BAD_PROJECTS],
    ids=[case[0] for case in BAD_PROJECTS],
)
def test_bad_project_says_what_is_wrong_and_exits_2(project_dir, text, expected):
    path = project_dir / "project.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"error: {path}: ") for line in lines), lines
    # one line per problem, in any order, and no follow-on noise
    assert len(lines) == len(expected), result.stderr
    for words in expected:
        fragments = (words,) if isinstance(words, str) else words
        assert any(all(f in line for f in fragments) for line in lines), (
            f"{fragments!r} not in:\n{result.stderr}"
        )


def test_gap_warns_on_stderr_and_still_passes(project_dir):
    path = project_dir / "gappy.yaml"
    path.write_text(
        "song: song.wav\nintervals:\n"
        + GOOD_INTERVAL
        + "  - {start: 6, end: 8, hold: {prompt: c}}\n"
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.stdout == f"{path}: ok (2 intervals, 0:00.0-0:08.0, model stabilityai/sd-turbo)\n"
    assert result.stderr.startswith(f"warning: {path}: intervals.1: gap of 2 s after intervals.0")


def test_a_folder_given_as_the_song_is_named_as_a_folder(project_dir):
    (project_dir / "songs").mkdir()
    path = project_dir / "project.yaml"
    path.write_text("song: songs\nintervals:\n" + GOOD_INTERVAL)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    folder = project_dir / "songs"
    assert result.stderr == f"error: {path}: song: {folder} is a folder, not an audio file\n"


def test_validate_demo_in_a_subprocess():
    result = run_cli("validate", DEMO)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{DEMO}: ok (3 intervals, 0:00.0-0:16.0, model tiny)\n"
    assert result.stderr == ""


def test_validate_bad_project_in_a_subprocess(project_dir):
    path = project_dir / "bad.yaml"
    path.write_text("song: song.wav\nfps: -3\nintervals:\n  - {start: 0, end: 4}\n")
    result = run_cli("validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {path}: fps: must be greater than 0 (got -3)",
        f"error: {path}: intervals.0: needs either a `transition` (with from/to) or a `hold`",
    ]


def test_validate_warns_about_settings_that_change_nothing(project_dir):
    path = project_dir / "idle.yaml"
    path.write_text(
        "song: song.wav\nmodel: tiny\nnegative: blurry\nintervals:\n"
        "  - {start: 0, end: 2, hold: {prompt: a red sun}, warp: beats, reactivity: 1}\n"
        "  - {start: 2, end: 4, transition: color, to: {prompt: a teal sun}, warp: beats}\n"
        "  - {start: 4, end: 6, transition: style, to: {prompt: a teal sun}}\n"
    )
    result = run_cli("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {path}: negative: not used while guidance is 0; a negative prompt needs "
        "guidance above 1 (which doubles the model's work per frame)",
        f"warning: {path}: intervals.0.warp: not used by a hold, which moves on the beats "
        "(set hold.pulse and hold.zoom)",
        f"warning: {path}: intervals.0.reactivity: not used by a hold, which moves on the "
        "beats (set hold.pulse and hold.zoom)",
        f"warning: {path}: intervals.2: starts and ends on the same prompt and seed, so its "
        "picture does not change (a hold pulses on the beats instead)",
    ]
    # with guidance the negative prompt is used, and a hold without motion settings is quiet
    path.write_text(
        "song: song.wav\nmodel: tiny\nnegative: blurry\nguidance: 3\nintervals:\n"
        "  - {start: 0, end: 2, hold: {prompt: a red sun}}\n"
    )
    result = run_cli("validate", str(path))
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_validate_names_a_prompt_the_model_cannot_read_to_the_end(project_dir):
    scene = "a neon city skyline at night, rain on the glass, "
    long = scene * 8 + "seen from a rooftop"  # 8 x 12 + 4 = 100 words and commas
    path = project_dir / "long.yaml"
    path.write_text(
        "song: song.wav\nmodel: tiny\nstyle: oil painting\nintervals:\n"
        f"  - {{start: 0, end: 4, transition: color, from: {{prompt: '{long}'}}, "
        "to: {prompt: 'the sun at noon'}}\n"
    )
    result = run_cli("validate", str(path))
    assert result.returncode == 0, result.stderr
    # the style goes last (+3: a comma, oil, painting), so it is what the model never reads
    assert result.stderr.splitlines()[0] == (
        f"warning: {path}: intervals.0 start prompt: at least 103 tokens, and the model "
        "reads 75: 'skyline at night, rain on ... a rooftop, oil painting' is cut off "
        "(put what matters first, or shorten it)"
    )
    assert "the sun at noon" not in result.stderr  # short prompts are not named


def test_missing_project_file_exits_2_without_traceback(tmp_path):
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'nope.yaml'}: project file not found\n"


def test_debug_variable_shows_the_traceback(project_dir):
    path = project_dir / "bad.yaml"
    path.write_text("song: song.wav\nintervals: []\n")
    result = run_cli("validate", str(path), env={"GENDISCO_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ProjectError" in result.stderr


def test_schema_prints_the_committed_schema():
    result = run_cli("schema")
    assert result.returncode == 0, result.stderr
    committed = (REPO_ROOT / "src/gendisco/project.schema.json").read_text()
    assert result.stdout == committed
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"song", "intervals"} <= set(schema["required"])


def test_validate_and_schema_do_not_import_torch_or_librosa():
    code = (
        "import sys\n"
        "from gendisco.cli import app\n"
        "for args in (['validate', sys.argv[1]], ['schema']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n"
        "heavy = sorted(m for m in ('torch', 'librosa', 'diffusers') if m in sys.modules)\n"
        "print('heavy:', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, DEMO], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stderr
