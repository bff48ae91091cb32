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
    assert set(data) == {"duration", "tempo", "beats", "downbeats", "sections"}
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

    with Image.open(out) as image:
        assert image.height > 700  # three panels: waveform, onsets, warp curves
    song_only = tmp_path / "song.png"
    assert (
        CliRunner().invoke(app, ["analyze", str(song_file), "--plot", str(song_only)]).exit_code
        == 0
    )
    with Image.open(song_only) as image:
        assert image.height < 700


def test_corrupt_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    done = run_cli("analyze", str(bad), cache=tmp_path / "cache")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.mp3" in lines[0]
    assert "Traceback" not in done.stderr
