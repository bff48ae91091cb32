"""`gendisco analyze`: table, JSON and plot, for a song or a project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gendisco.cli import app
from synth import drum_song, write_audio


@pytest.fixture(scope="module")
def song_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("song")
    song = drum_song(120, 16, seed=4)
    return write_audio(folder / "song.m4a", song.y, song.sr)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(tmp_path / "cache"))


def run_cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args], capture_output=True, text=True, env=env
    )


def test_json_on_stdout(song_file: Path, tmp_path: Path) -> None:
    done = run_cli("analyze", str(song_file), "--json", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"duration", "tempo", "tempo_segments", "beats", "downbeats", "sections"}
    (segment,) = data["tempo_segments"]
    assert segment["start"] == 0.0 and segment["end"] == data["duration"]
    assert segment["bpm"] == pytest.approx(120, rel=0.03)
    assert data["duration"] == pytest.approx(16.0, abs=0.1)
    assert data["tempo"] == pytest.approx(120, rel=0.03)
    assert len(data["beats"]) >= 28
    assert set(data["downbeats"]) <= set(data["beats"])
    assert data["sections"][0] == 0.0


def test_table_names_tempo_and_counts(song_file: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", str(song_file)])
    assert result.exit_code == 0, result.output
    assert "tempo" in result.stdout and "BPM" in result.stdout
    assert "beats" in result.stdout and "sections" in result.stdout


def test_project_plot_draws_intervals(song_file: Path, tmp_path: Path) -> None:
    project = tmp_path / "video.yaml"
    project.write_text(
        f"song: {song_file}\n"
        "fps: 12\n"
        "intervals:\n"
        "  - {start: 0, end: 6, transition: color, from: {prompt: a}, to: {prompt: b}}\n"
        "  - {start: 6, end: 10, hold: {prompt: c, pulse: 0.4, zoom: 1.1}}\n"
        "  - {start: 10, end: 15, transition: subject, to: {prompt: d}, warp: beats}\n"
    )
    out = tmp_path / "analysis.png"
    result = CliRunner().invoke(app, ["analyze", str(project), "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    song_only = tmp_path / "song.png"
    done = CliRunner().invoke(app, ["analyze", str(song_file), "--plot", str(song_only)])
    assert done.exit_code == 0, done.output
    with Image.open(out) as with_intervals, Image.open(song_only) as alone:
        # the warp curves are one panel more, below waveform, onsets and local tempo
        assert with_intervals.height > alone.height + 150
        assert with_intervals.width == alone.width


@pytest.mark.parametrize("form", ["existing folder", "trailing slash"])
def test_plot_into_a_folder_writes_analysis_png_there(song_file: Path, tmp_path: Path, form):
    folder = tmp_path / "plots"
    folder.mkdir()
    target = str(folder) if form == "existing folder" else f"{folder}/"
    done = run_cli("analyze", str(song_file), "--plot", target, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    written = folder / "analysis.png"
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {written}" in done.stderr.splitlines()
    assert not (tmp_path / "plots.png").exists()


def test_plot_path_without_png_suffix_is_written_as_named(song_file: Path, tmp_path: Path):
    target = tmp_path / "picture"
    done = run_cli("analyze", str(song_file), "--plot", str(target), cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {target}" in done.stderr.splitlines()


def test_says_analysing_only_when_it_analyses(song_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run_cli("analyze", str(song_file), "--json", cache=cache)
    second = run_cli("analyze", str(song_file), "--json", cache=cache)
    assert first.returncode == second.returncode == 0
    assert first.stderr.strip() == f"analysing {song_file}"
    assert second.stderr.strip() == ""  # read from the cache: nothing to wait for
    assert first.stdout == second.stdout


def test_long_path_is_printed_whole_on_one_line(song_file: Path, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "song with spaces.m4a"
    deep.parent.mkdir()
    deep.write_bytes(song_file.read_bytes())
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "60"}
    done = subprocess.run(
        [sys.executable, "-m", "gendisco", "analyze", str(deep)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(deep)
    assert all(len(line) <= 60 for line in lines[1:])  # the table fits the terminal


def test_tempo_change_is_reported_as_two_segments(tmp_path: Path) -> None:
    song = drum_song((100, 140), 24, change_at_s=12, seed=16)
    path = write_audio(tmp_path / "change.wav", song.y, song.sr)
    done = run_cli("analyze", str(path), "--json", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    slow, fast = json.loads(done.stdout)["tempo_segments"]
    assert slow["bpm"] == pytest.approx(100, rel=0.04)
    assert fast["bpm"] == pytest.approx(140, rel=0.04)
    assert slow["end"] == fast["start"] and 11.0 <= fast["start"] <= 13.2
    table = run_cli("analyze", str(path), cache=tmp_path / "cache")
    assert "tempo changes" in table.stdout


def test_corrupt_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    done = run_cli("analyze", str(bad), cache=tmp_path / "cache")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.mp3" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_folder_given_as_the_song_is_named_as_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "songs"
    folder.mkdir()
    done = run_cli("analyze", str(folder), cache=tmp_path / "cache")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {folder} is a folder, not an audio file"]


def test_a_snapped_project_is_plotted_where_it_renders(song_file, tmp_path, monkeypatch):
    from gendisco import audio

    drawn = {}

    def capture(song, result, out, *, intervals):
        drawn["curves"] = intervals
        return Path(out)

    monkeypatch.setattr(audio, "plot_analysis", capture)
    project = tmp_path / "video.yaml"
    project.write_text(
        f"song: {song_file}\nfps: 12\nsnap: bar\nintervals:\n"
        "  - {start: 0.3, end: 3.3, hold: {prompt: a}}\n"
        "  - {start: 5.2, end: 16, transition: color, from: {prompt: b}, to: {prompt: c}}\n"
    )
    result = CliRunner().invoke(app, ["analyze", str(project), "--plot", str(tmp_path / "a.png")])
    assert result.exit_code == 0, result.output
    bars = audio.analyze(song_file).downbeat_times_s
    (_, hold_times, _), (_, transition_times, _) = drawn["curves"]
    nearest_bar = lambda t: bars[abs(bars - t).argmin()]  # noqa: E731
    # written 0.3-3.3 and 5.2-16: drawn from the bars the render snaps them to
    assert hold_times[0] == pytest.approx(nearest_bar(0.3), abs=1 / 12)
    assert hold_times[-1] == pytest.approx(nearest_bar(3.3) - 1 / 12, abs=1 / 12)
    assert transition_times[0] == pytest.approx(nearest_bar(5.2), abs=1 / 12)
