"""`gendisco init`: a project cut along a synthesised song's known beats and tempo change."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gendisco.audio import AudioAnalysis, analyze
from gendisco.cli import app
from gendisco.project import load_project, resolve_intervals
from gendisco.scaffold import init_project, plan_kinds, plan_spans
from synth import drum_song, write_audio

BARS = 4
CHANGE_S = 24.0  # 120 BPM until here (12 bars), then 100 BPM
DURATION_S = 44.0
BEAT_TOLERANCE_S = 0.03  # about one frame at 30 fps
TRUE_BEAT_TOLERANCE_S = 0.07


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> tuple[Path, object]:
    """A drum-and-band song whose tempo and arrangement change at 24 s, and its truth."""
    track = drum_song((120, 100), DURATION_S, change_at_s=CHANGE_S, section_bars=12, seed=1)
    path = write_audio(tmp_path_factory.mktemp("song") / "song.wav", track.y, track.sr)
    return path, track


@pytest.fixture(autouse=True)
def analysis_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def scaffold(song, tmp_path_factory):
    """The project `init` writes for the song, in a folder beside the song's."""
    path, _ = song
    out = tmp_path_factory.mktemp("project") / "video.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENDISCO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        return init_project(path, out, bars=BARS)


def boundaries(project) -> np.ndarray:
    return np.array([interval.start for interval in project.intervals[1:]])


# 1. Where the boundaries go ---------------------------------------------------------------


def test_every_boundary_is_on_a_detected_beat_near_a_true_beat(song, scaffold):
    path, track = song
    project = load_project(scaffold.path)
    detected = analyze(path).beat_times_s
    cuts = boundaries(project)
    assert cuts.size >= 3
    for t in cuts:
        assert np.min(np.abs(detected - t)) <= BEAT_TOLERANCE_S, t
        assert np.min(np.abs(track.beats_s - t)) <= TRUE_BEAT_TOLERANCE_S, t


def test_one_boundary_falls_on_the_tempo_and_section_change(scaffold):
    cuts = boundaries(load_project(scaffold.path))
    assert np.min(np.abs(cuts - CHANGE_S)) <= TRUE_BEAT_TOLERANCE_S, cuts


def test_a_tempo_change_inside_a_section_starts_an_interval_on_a_beat(tmp_path):
    # 100 -> 140 BPM at 12 s with the arrangement unchanged: only the tempo marks the spot
    track = drum_song((100, 140), 24, change_at_s=12, section_bars=16, seed=16)
    path = write_audio(tmp_path / "change.wav", track.y, track.sr)
    analysis = analyze(path)
    spans = plan_spans(analysis, bars=8, end_s=analysis.duration_s)
    change_s = float(track.beats_s[np.flatnonzero(np.diff(track.beats_s) < 0.5)[0]])
    starts = np.array([span.start_s for span in spans])
    at_change = [span for span in spans if span.start_why == "tempo change"]
    assert len(at_change) == 1, [(s.start_s, s.start_why) for s in spans]
    cut = at_change[0].start_s
    assert abs(cut - change_s) <= 60 / 100 * 1.01, (cut, change_s)  # within a beat
    assert np.min(np.abs(analysis.beat_times_s - cut)) <= BEAT_TOLERANCE_S
    assert np.min(np.abs(track.beats_s - cut)) <= TRUE_BEAT_TOLERANCE_S
    assert starts.size == np.unique(starts).size


def test_intervals_cover_the_song_without_gaps_and_none_is_too_long(song, scaffold):
    project = load_project(scaffold.path)
    assert not project.warnings  # a gap would be reported here
    intervals = project.intervals
    assert intervals[0].start == 0.0
    for before, after in pairwise(intervals):
        assert after.start == before.end
    assert intervals[-1].end == pytest.approx(DURATION_S, abs=0.05)
    slowest_bar_s = 4 * 60 / 100
    for interval in intervals:
        # every BARS bars, or up to half as much again where a short rest was joined on
        assert slowest_bar_s <= interval.end - interval.start <= 1.5 * BARS * slowest_bar_s


def test_transitions_and_holds_alternate_and_continue_from_each_other(scaffold):
    project = load_project(scaffold.path)
    resolved = resolve_intervals(project)
    kinds = [item.transition or "hold" for item in resolved]
    assert "hold" in kinds
    assert len({k for k in kinds if k != "hold"}) >= 2, kinds
    raw = yaml.safe_load(scaffold.path.read_text())["intervals"]
    continued = [i for i, item in enumerate(raw) if "transition" in item and "from" not in item]
    assert continued, "later transitions should continue from the previous interval"
    for i in continued:  # no jump: each starts on the picture the previous one ended on
        previous = resolved[i - 1]
        assert (resolved[i].from_prompt, resolved[i].from_seed) == (
            previous.to_prompt,
            previous.to_seed,
        )


def test_file_is_commented_and_points_at_the_song_and_schema(song, scaffold):
    text = scaffold.path.read_text()
    lines = text.splitlines()
    assert lines[0] == f"# Render: gendisco render {scaffold.path}"
    schema = lines[1].removeprefix("# yaml-language-server: $schema=")
    assert (scaffold.path.parent / schema).is_file()
    assert "PLACEHOLDER" in text
    raw = yaml.safe_load(text)
    assert raw["song"] == os.path.relpath(song[0], scaffold.path.parent)  # moves with the file
    assert raw["model"] == "stabilityai/sd-turbo"
    comments = "\n".join(line for line in lines if line.lstrip().startswith("#"))
    for key in ("fps", "steps", "guidance", "transition", "warp", "reactivity", "pulse"):
        explained = any(re.match(rf"\s*(- )?{key}: .*# \w", line) for line in lines)
        assert explained or f"{key}: higher" in comments, key


# 2. The plan on exact beats -----------------------------------------------------------------


def exact_analysis(beats: np.ndarray, *, meter: int = 4, sections=(0.0,), duration_s: float):
    empty = np.zeros(1)
    return AudioAnalysis(
        duration_s=duration_s,
        tempo_bpm=120.0 if beats.size else 0.0,
        beat_times_s=beats,
        downbeat_times_s=beats[::meter],
        tempo_curve_bpm=empty,
        envelope_times_s=empty,
        onset_envelope=empty,
        percussive_envelope=empty,
        section_times_s=np.asarray(sections, dtype=float),
    )


def test_plan_cuts_every_n_bars_and_restarts_at_a_tempo_change():
    beats = np.concatenate([np.arange(0, 24, 0.5), 24 + np.arange(0, 20 / 0.6) * 0.6])
    analysis = exact_analysis(beats, duration_s=44.0)
    spans = plan_spans(analysis, bars=4, end_s=44.0)
    starts = [round(s.start_s, 3) for s in spans]
    # 12 bars at 120 BPM, then the new tempo's bars count from the change; the last
    # third of a bar before the end joins the last interval
    assert starts == [0.0, 8.0, 16.0, 24.0, 33.6]
    assert spans[2].ends_on_change and spans[3].start_why == "tempo change"
    assert plan_kinds(spans, bars=4)[2] == "subject"  # the new subject arrives on the change


def test_plan_gives_a_short_section_a_hold_and_a_long_intro_its_own_interval():
    beats = np.arange(10.0, 60.0, 0.5)  # 10 s of intro without beats
    sections = (0.0, 26.0, 30.0)  # a two-bar break at 26 s
    analysis = exact_analysis(beats, sections=sections, duration_s=60.0)
    spans = plan_spans(analysis, bars=4, end_s=60.0)
    kinds = plan_kinds(spans, bars=4)
    starts = [s.start_s for s in spans]
    assert starts[:2] == [0.0, 10.0]
    assert 26.0 in starts and 30.0 in starts
    assert kinds[starts.index(26.0)] == "hold"


def test_plan_without_beats_still_covers_the_song():
    analysis = exact_analysis(np.zeros(0), duration_s=30.0)
    spans = plan_spans(analysis, bars=4, end_s=30.0)
    assert spans[0].start_s == 0.0 and spans[-1].end_s == 30.0
    assert all(a.end_s == b.start_s for a, b in pairwise(spans))


# 3. The command ---------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "GENDISCO_DEBUG": ""},
    )


def test_init_then_render_on_the_tiny_model(song, tmp_path):
    path, _ = song
    made = run_cli("init", str(path), "--bars", "8", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project_path = tmp_path / "project.yaml"
    assert "gendisco render project.yaml" in made.stderr
    assert re.search(r"\d+ intervals", made.stderr)
    # as a user would for a quick look: small frames, few of them, a fast encoder
    text = project_path.read_text()
    for key, value in {
        "width": 64,
        "height": 64,
        "fps": 4,
        "scheduler": "ddim",
        "preset": "ultrafast",
    }.items():
        text, found = re.subn(rf"^{key}: \S+", f"{key}: {value}", text, flags=re.M)
        assert found == 1, key
    project_path.write_text(text)
    rendered = run_cli("render", "project.yaml", "--model", "tiny", "--quiet", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    project = load_project(project_path)
    with av.open(str(project.output / "final.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == round(project.intervals[-1].end * 4)


def test_existing_file_is_kept_unless_forced(song, tmp_path):
    path, _ = song
    out = tmp_path / "mine.yaml"
    out.write_text("# my work\n")
    runner = CliRunner()
    refused = runner.invoke(app, ["init", str(path), "--out", str(out)])
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {out} already exists; use --force to overwrite it"
    ]
    assert out.read_text() == "# my work\n"
    forced = runner.invoke(app, ["init", str(path), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert load_project(out).intervals


def test_missing_song_is_one_line_and_writes_nothing(tmp_path):
    result = run_cli("init", "nowhere.mp3", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: song not found: nowhere.mp3"]
    assert not list(tmp_path.iterdir())


def test_from_brainstorm_fills_the_prompts_offline_and_repeats_with_a_seed(song, tmp_path):
    from gendisco.brainstorm import VIDEOGRAPHY

    path, _ = song
    goal = "a summer night in the city"
    runner = CliRunner(env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    texts = []
    for name in ("a", "b"):
        out = tmp_path / name / "project.yaml"
        args = ["init", str(path), "--out", str(out), "--from-brainstorm", goal, "--seed", "5"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.stderr
        assert "offline vocabulary" in result.stderr
        texts.append(out.read_text().replace(f"/{name}/", "/"))
    assert texts[0] == texts[1]
    project = load_project(tmp_path / "a" / "project.yaml")
    first = resolve_intervals(project)[0].from_prompt
    symbols = VIDEOGRAPHY.symbols
    from_goal = symbols["summer"] + symbols["night"] + symbols["city"]
    assert first.startswith(from_goal), first  # a subject the goal's words suggest
    assert "PLACEHOLDER" not in texts[0]


def test_one_interval_is_counted_in_the_singular_and_the_next_step_is_a_draft(tmp_path, make_wav):
    song = make_wav("short.wav", seconds=6.0)  # no beat, shorter than one interval: one hold
    out = tmp_path / "short.yaml"
    result = CliRunner().invoke(app, ["init", str(song), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"wrote {out}: 1 interval (0 transitions, 1 hold), prompts from" in result.stderr
    assert f"next: a quick look with gendisco render {out} --draft" in result.stderr
    text = out.read_text()
    header = " ".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("#"))
    assert "1 interval: 0 transitions and 1 hold" in header
    assert f"A quick look first: gendisco render {out} --draft" in header
    assert "--model tiny" not in header and "in seconds" not in header
