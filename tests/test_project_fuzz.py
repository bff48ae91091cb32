"""Whatever a project file holds, `load_project` and `gendisco validate` answer with
gendisco's own errors: one line per problem, naming the field or the line, never a
traceback. Mutated files come from tests/project_fuzz.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from gendisco.errors import ProjectError
from gendisco.project import load_project
from project_fuzz import alias_bomb, outcome, prepare_folder, project_files, write_song

# Deterministic in CI (derandomize: the same files on every run); for a long random
# campaign run `python tests/project_fuzz.py --examples 1000`.
FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    return prepare_folder(tmp_path_factory.mktemp("fuzz"))


@FUZZ
@given(data=project_files())
def test_mutated_projects_give_only_gendisco_errors(target: Path, data: bytes) -> None:
    target.write_bytes(data)
    outcome(target)


A_HOLD = "intervals:\n  - {start: 0, end: 4, hold: {prompt: a}}\n"

# Each case: the file's text and the problems it must report, in order.
CASES = {
    "song path longer than the OS allows": (
        "song: {long}.wav\n" + A_HOLD,
        ["song: cannot use this path (File name too long): "],
    ),
    "time of 1e308 and a NaN": (
        "song: song.wav\nintervals:\n  - {start: 0, end: 1.0e+308, hold: {prompt: a}}\n"
        "  - {start: .nan, end: 6, hold: {prompt: b}}\n",
        [
            "intervals.0.end: must be at most 86400 (got 1e+308)",
            "intervals.1.start: must be a finite number (got nan)",
        ],
    ),
    "integer too long for a float": (
        f"song: song.wav\nintervals:\n  - {{start: {'9' * 400}, end: 4, hold: {{prompt: a}}}}\n",
        ["intervals.0.start: not a time: a number too large; times are at most 86400 s"],
    ),
    "an impossible date": (
        "song: song.wav\nstyle: 2001-13-45\n" + A_HOLD,
        ["invalid YAML: a value cannot be read (month must be in 1..12)"],
    ),
    "an alias bomb": (
        "song: song.wav\n" + A_HOLD + alias_bomb(12, 9, merge=False),
        ["line 9: aliases (*name) here unfold into more than 200,000 values"],
    ),
    "a merge-key bomb": (
        "song: song.wav\n" + A_HOLD + alias_bomb(40, 2, merge=True),
        ["aliases (*name) here unfold into more than 200,000 values"],
    ),
    "nesting 60 levels deep": (
        "song: song.wav\nstyle: " + "[" * 60 + "]" * 60 + "\n" + A_HOLD,
        ["line 2: values are nested more than 50 levels deep"],
    ),
    "nesting 100,000 levels deep": (  # past what libyaml itself parses
        "song: song.wav\nstyle: " + "[" * 100_000 + "]" * 100_000 + "\n" + A_HOLD,
        ["line 2, column "],
    ),
    "a 5,000-digit hexadecimal choice": (
        "song: song.wav\nsnap: 0x" + "f" * 5000 + "\n" + A_HOLD,
        ["snap: must be one of none, beat, bar (got a number of about 6021 digits)"],
    ),
    "a NUL in the song, a newline in a key": (
        'song: "a\\0b.wav"\n"bad\\nkey": 1\n' + A_HOLD,
        [
            "song: must not contain a NUL character (\\x00)",
            "'bad\\nkey': unknown key",
        ],
    ),
}


def case_file(folder: Path, name: str) -> tuple[Path, list[str]]:
    text, expected = CASES[name]
    path = folder / "project.yaml"
    path.write_text(text.replace("{long}", "x" * 300) if "{long}" in text else text)
    return path, expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_what_the_fuzzer_found_is_one_line_per_problem(tmp_path: Path, name: str) -> None:
    write_song(tmp_path)
    path, expected = case_file(tmp_path, name)
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    problems = caught.value.problems
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert start in problem, problems
    outcome(path)  # and each line passes the fuzzer's oracle


@pytest.mark.parametrize(
    "name", ["song path longer than the OS allows", "time of 1e308 and a NaN", "an alias bomb"]
)
def test_validate_reports_them_in_one_line_each(tmp_path: Path, name: str) -> None:
    write_song(tmp_path)
    path, expected = case_file(tmp_path, name)
    done = subprocess.run(
        [sys.executable, "-m", "gendisco", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "GENDISCO_DEBUG"},
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"error: {path}: ") and start in line, lines
