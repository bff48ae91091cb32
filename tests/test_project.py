"""The project format: loading, every problem by path, schema, and resolved intervals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gendisco.errors import ProjectError, UserError
from gendisco.project import (
    HoldSpec,
    Interval,
    Project,
    PromptSpec,
    format_time,
    load_project,
    parse_time,
    resolve_intervals,
    schema_json,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO_ROOT / "projects").rglob("*.yaml"))


def write(folder: Path, text: str, name: str = "project.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --- times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (12, 12.0),
        (12.5, 12.5),
        ("12.5", 12.5),
        ("0:08", 8.0),
        ("1:05.5", 65.5),
        ("1:02:03.5", 3723.5),
        (" 2:00 ", 120.0),
    ],
)
def test_parse_time_accepts_seconds_and_clock_notation(value, seconds):
    assert parse_time(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["1:7x", "abc", "1:75", "1:60:00", True, ""])
def test_parse_time_rejects_what_is_not_a_time(value):
    with pytest.raises(ValueError, match="not a time"):
        parse_time(value)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00.0"), (16, "0:16.0"), (65.55, "1:05.6"), (3723.5, "1:02:03.5")]
)
def test_format_time(seconds, text):
    assert format_time(seconds) == text
    assert parse_time(text) == pytest.approx(seconds, abs=0.05)


# --- shipped projects -------------------------------------------------------------------


def test_projects_folder_has_projects():
    assert SHIPPED, "projects/ should ship at least the demo project"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_shipped_project_validates_without_warnings(path):
    project = load_project(path)
    assert project.warnings == []
    assert project.song.is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_shipped_project_starts_with_its_command_and_schema_modeline(path):
    head = path.read_text().splitlines()[:3]
    assert head[0].startswith("#") and "gendisco render" in head[0]
    modelines = [line for line in head if line.startswith("# yaml-language-server: $schema=")]
    assert modelines, "the YAML language server needs a $schema modeline near the top"
    target = modelines[0].split("$schema=", 1)[1].strip()
    assert (path.parent / target).resolve() == REPO_ROOT / "src/gendisco/project.schema.json"


def test_demo_shows_a_color_transition_a_hold_and_a_continuing_subject_transition():
    project = load_project(REPO_ROOT / "projects/demo/demo.yaml")
    kinds = [(r.kind, r.transition, r.continues) for r in resolve_intervals(project)]
    assert ("transition", "color", False) in kinds
    assert any(kind == "hold" for kind, _, _ in kinds)
    assert ("transition", "subject", True) in kinds
    assert project.model == "tiny" and project.width <= 256 and project.height <= 256


# --- loading: paths, defaults, warnings -------------------------------------------------


def test_paths_resolve_relative_to_the_project_file(tmp_path, make_wav, monkeypatch):
    make_wav("song.wav", seconds=10)
    path = write(
        tmp_path,
        "song: song.wav\nintervals:\n  - {start: 0, end: 4, hold: {prompt: a}}\n",
        name="my-video.yaml",
    )
    monkeypatch.chdir(REPO_ROOT)  # somewhere else: paths must not depend on the cwd
    project = load_project(path)
    assert project.song == tmp_path.resolve() / "song.wav"
    assert project.output == tmp_path.resolve() / "renders" / "my-video"
    assert project.path == path.resolve()
    (tmp_path / "models" / "mine").mkdir(parents=True)
    text = path.read_text()
    for model, loaded in (
        ("./models/mine", str(tmp_path.resolve() / "models" / "mine")),
        ("models/mine", str(tmp_path.resolve() / "models" / "mine")),  # it is there
        ("../missing", str(tmp_path.parent.resolve() / "missing")),  # the error names it
        ("owner/name", "owner/name"),  # a hub id: no such folder beside the project
        ("tiny", "tiny"),
        ("~/models/x.safetensors", "~/models/x.safetensors"),  # the loader expands it
    ):
        path.write_text(f"model: {model}\n{text}")
        assert load_project(path).model == loaded, model


def test_defaults_come_from_the_schema(tmp_path, make_wav):
    make_wav()
    project = load_project(
        write(tmp_path, "song: song.wav\nintervals:\n  - {start: 0, end: 4, hold: {prompt: a}}\n")
    )
    assert (project.model, project.width, project.height, project.fps) == (
        "stabilityai/sd-turbo",
        512,
        512,
        24.0,
    )
    assert (project.steps, project.guidance, project.seed, project.snap) == (2, 0.0, 42, "none")
    assert (project.crf, project.preset, project.vae, project.scheduler) == (
        18,
        "medium",
        "default",
        "euler",
    )
    interval = project.intervals[0]
    assert (interval.warp, interval.reactivity) == ("onsets", 0.75)
    assert (interval.hold.pulse, interval.hold.zoom) == (0.3, 1.0)


def test_gap_between_intervals_is_a_warning_not_an_error(tmp_path, make_wav):
    make_wav()
    project = load_project(
        write(
            tmp_path,
            "song: song.wav\nintervals:\n"
            "  - {start: 0, end: 4, hold: {prompt: a}}\n"
            "  - {start: 5.5, end: 8, hold: {prompt: b}}\n",
        )
    )
    assert len(project.warnings) == 1
    assert "intervals.1: gap of 1.5 s after intervals.0" in project.warnings[0]


def test_interval_may_end_a_frame_past_the_song_but_no_more(tmp_path, make_wav):
    make_wav(seconds=10)
    ok = "song: song.wav\nfps: 10\nintervals:\n  - {start: 0, end: 10.05, hold: {prompt: a}}\n"
    assert load_project(write(tmp_path, ok)).intervals[0].end == 10.05
    bad = ok.replace("10.05", "10.2")
    with pytest.raises(ProjectError) as caught:
        load_project(write(tmp_path, bad))
    assert caught.value.problems == [
        "intervals.0.end: 10.2 is past the end of the song (10.00 s = 0:10.0)"
    ]


def test_check_song_false_skips_the_song(tmp_path):
    text = "song: nowhere.mp3\nintervals:\n  - {start: 0, end: 400, hold: {prompt: a}}\n"
    project = load_project(write(tmp_path, text), check_song=False)
    assert project.song.name == "nowhere.mp3"


def test_missing_project_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="project file not found"):
        load_project(tmp_path / "nope.yaml")


def test_all_problems_are_collected_in_one_error(tmp_path, make_wav):
    make_wav(seconds=10)
    text = """\
song: song.wav
fps: 0
width: 500
intervals:
  - start: 0
    end: 4
    transition: color
    form: {prompt: a}
    to: {prompt: b}
  - start: 3
    end: 2
    hold: {prompt: x, seed: -3}
  - start: 5
    end: 30
    transition: subject
    to: {prompt: c}
"""
    with pytest.raises(ProjectError) as caught:
        load_project(write(tmp_path, text))
    assert caught.value.problems == [
        "width: must be a multiple of 8 (got 500)",
        "fps: must be greater than 0 (got 0)",
        # no "intervals.0.from: required" as well: the typo line already says it
        "intervals.0.form: unknown key; did you mean 'from'?",
        "intervals.1.hold.seed: must be at least 0 (got -3)",
        "intervals.1.end: must be greater than start (3)",
        "intervals.1.start: 3 overlaps intervals.0, which ends at 4",
        "intervals.2.end: 30 is past the end of the song (10.00 s = 0:10.0)",
    ]
    assert (
        caught.value.lines()[0]
        == f"{tmp_path / 'project.yaml'}: width: must be a multiple of 8 (got 500)"
    )


def test_an_unknown_scheduler_is_a_validation_problem_not_a_render_failure(tmp_path, make_wav):
    make_wav(seconds=10)
    text = (
        "song: song.wav\nscheduler: {}\nfps: 0\n"
        "intervals: [{{start: 0, end: 4, hold: {{prompt: a}}}}]\n"
    )
    with pytest.raises(ProjectError) as caught:
        load_project(write(tmp_path, text.format("eulr")))
    problem, other = caught.value.problems
    assert problem.startswith("scheduler: unknown scheduler 'eulr' (did you mean euler?); known: ")
    assert "dpm++" in problem and "unipc" in problem
    assert other == "fps: must be greater than 0 (got 0)"
    # names are kept as written (the clips' names depend on them), in any spelling that loads
    for name in ("dpm", "DPM++", "euler-a", "UniPC"):
        good = load_project(write(tmp_path, text.format(name).replace("fps: 0", "fps: 8")))
        assert good.scheduler == name


# --- the schema -------------------------------------------------------------------------


def test_committed_schema_matches_the_code():
    committed = (REPO_ROOT / "src/gendisco/project.schema.json").read_text()
    assert committed == schema_json(), (
        "regenerate it: gendisco schema > src/gendisco/project.schema.json"
    )


@pytest.mark.parametrize("model", [Project, Interval, PromptSpec, HoldSpec])
def test_schema_lists_every_field_with_a_description(model):
    schema = json.loads(schema_json())
    node = schema if model is Project else schema["$defs"][model.__name__]
    keys = {f.alias or name for name, f in model.model_fields.items() if not f.exclude}
    assert set(node["properties"]) == keys
    assert node["additionalProperties"] is False  # editors flag typos too
    for key, prop in node["properties"].items():
        assert prop.get("description"), f"{model.__name__}.{key} has no description"


def test_schema_uses_yaml_names_and_hides_loader_fields():
    properties = json.loads(schema_json())["$defs"]["Interval"]["properties"]
    assert "from" in properties and "from_" not in properties
    top = json.loads(schema_json())["properties"]
    assert "path" not in top and "warnings" not in top
    assert {"type": "string", "pattern": r"^(\d+:)?\d+:\d+(\.\d*)?$"} in properties["start"][
        "anyOf"
    ]


def test_project_round_trips_through_its_dump(repo_root):
    project = load_project(repo_root / "projects/demo/demo.yaml")
    dumped = project.model_dump(mode="json", by_alias=True)
    assert "from" in dumped["intervals"][0] and "path" not in dumped
    again = Project.model_validate(dumped)
    assert again == project.model_copy(update={"path": None})


def test_project_round_trips_through_yaml(tmp_path, repo_root):
    project = load_project(repo_root / "projects/demo/demo.yaml")
    text = yaml.safe_dump(project.model_dump(mode="json", by_alias=True), sort_keys=False)
    again = load_project(write(tmp_path, text))
    assert again.model_dump() == project.model_dump()


def test_project_built_in_code_is_validated_too(tmp_path):
    interval = {"transition": "color", "from_": {"prompt": "a"}, "to": {"prompt": "b"}}
    with pytest.raises(ValueError, match="overlaps intervals.0"):
        Project(
            song=tmp_path / "x.wav",
            intervals=[{"start": 0, "end": 4, **interval}, {"start": 3, "end": 6, **interval}],
        )


# --- resolve_intervals ------------------------------------------------------------------


def resolved(**project_fields):
    project = Project.model_validate({"song": "song.wav", **project_fields})
    return resolve_intervals(project)


@pytest.mark.parametrize(
    ("transition", "to_seed"), [("color", 7), ("time", 7), ("style", 7), ("subject", 8)]
)
def test_end_seed_default_depends_on_the_transition_kind(transition, to_seed):
    (interval,) = resolved(
        intervals=[
            {
                "start": 0,
                "end": 4,
                "transition": transition,
                "from": {"prompt": "a", "seed": 7},
                "to": {"prompt": "b"},
            }
        ]
    )
    assert (interval.from_seed, interval.to_seed) == (7, to_seed)


def test_given_seeds_win_and_missing_ones_fall_back_to_the_project_seed():
    first, second = resolved(
        seed=5,
        intervals=[
            {
                "start": 0,
                "end": 4,
                "transition": "subject",
                "from": {"prompt": "a"},
                "to": {"prompt": "b", "seed": 99},
            },
            {"start": 4, "end": 8, "hold": {"prompt": "c"}},
        ],
    )
    assert (first.from_seed, first.to_seed) == (5, 99)
    assert (second.from_seed, second.to_seed) == (5, 5)


def test_omitted_from_continues_from_the_previous_end():
    first, hold, after_hold, after_transition = resolved(
        seed=1,
        intervals=[
            {
                "start": 0,
                "end": 2,
                "transition": "color",
                "from": {"prompt": "a", "seed": 3},
                "to": {"prompt": "b", "seed": 4},
            },
            {"start": 2, "end": 4, "hold": {"prompt": "disco ball", "seed": 9}},
            {"start": 4, "end": 6, "transition": "subject", "to": {"prompt": "flamingos"}},
            {"start": 6, "end": 8, "transition": "time", "to": {"prompt": "flamingos at night"}},
        ],
    )
    assert not first.continues and not hold.continues
    assert after_hold.continues and after_transition.continues
    assert (after_hold.from_prompt, after_hold.from_seed) == ("disco ball", 9)
    assert after_hold.to_seed == 10  # subject: a new seed for the new subject
    assert (after_transition.from_prompt, after_transition.from_seed) == ("flamingos", 10)
    assert after_transition.to_seed == 10  # time: the composition stays


def test_style_is_appended_once_to_every_prompt():
    first, second = resolved(
        style="digital painting",
        intervals=[
            {
                "start": 0,
                "end": 2,
                "transition": "color",
                "from": {"prompt": "a"},
                "to": {"prompt": "b"},
            },
            {"start": 2, "end": 4, "transition": "style", "to": {"prompt": "c"}},
        ],
    )
    assert (first.from_prompt, first.to_prompt) == ("a, digital painting", "b, digital painting")
    assert (second.from_prompt, second.to_prompt) == ("b, digital painting", "c, digital painting")


def test_holds_and_transitions_carry_their_own_knobs():
    transition, hold = resolved(
        negative="blurry",
        intervals=[
            {
                "start": 0,
                "end": 2,
                "transition": "color",
                "from": {"prompt": "a"},
                "to": {"prompt": "b"},
                "warp": "beats",
                "reactivity": 0.2,
            },
            {"start": 2, "end": 4, "hold": {"prompt": "c", "pulse": 0.5, "zoom": 1.1}},
        ],
    )
    assert (transition.kind, transition.transition, transition.pulse, transition.zoom) == (
        "transition",
        "color",
        0.0,
        1.0,
    )
    assert (transition.warp, transition.reactivity, transition.negative) == (
        "beats",
        0.2,
        "blurry",
    )
    assert (hold.kind, hold.transition, hold.pulse, hold.zoom) == ("hold", None, 0.5, 1.1)
    assert (hold.from_prompt, hold.to_prompt, hold.start_s, hold.end_s) == ("c", "c", 2.0, 4.0)
