"""`gendisco clean`: clips an edit left behind go; the current ones, and anything that is not
a clip, stay; a render in progress is never raced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from gendisco.lock import OutputLock

INTERVALS = [
    {"start": 0.0, "end": 1.0, "hold": {"prompt": "a mirror disco ball", "seed": 3}},
    {"start": 1.0, "end": 2.0, "hold": {"prompt": "a neon city", "seed": 4}},
]


def write_project(folder: Path, song: Path, intervals: list[dict]) -> Path:
    document = {
        "song": str(song),
        "output": "out",
        "model": "tiny",
        "width": 64,
        "height": 64,
        "fps": 12,
        "scheduler": "ddim",
        "preset": "ultrafast",
        "intervals": intervals,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run_cli(*args: str, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GENDISCO_CACHE_DIR": str(folder / "cache"), "GENDISCO_DEBUG": ""},
        timeout=300,
    )


def test_clean_removes_only_the_clips_an_edit_left_behind(tmp_path, make_wav):
    song = make_wav("song.wav", seconds=3)
    project = write_project(tmp_path, song, INTERVALS)
    clips = tmp_path / "out" / "clips"
    assert run_cli("render", str(project), "--quiet", folder=tmp_path).returncode == 0
    first = set(clips.glob("*.mp4"))
    edited = [INTERVALS[0], {**INTERVALS[1], "hold": {"prompt": "a quiet city", "seed": 4}}]
    write_project(tmp_path, song, edited)
    assert run_cli("render", str(project), "--quiet", folder=tmp_path).returncode == 0
    made = set(clips.glob("*.mp4")) - first
    (stale,) = [path for path in first if path.name.startswith("001-")]  # the old interval 1
    current = {path.name for path in (first | made) - {stale}}
    assert len(made) == 1 and len(current) == 2
    (clips / "notes.txt").write_text("mine")  # not a clip: never touched

    dry = run_cli("clean", str(project), "--dry-run", folder=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout == f"{stale}\n"
    size_kb = stale.stat().st_size / 1000
    assert f"would remove 1 file ({size_kb:.1f} kB); 2 clips in use kept" in dry.stderr
    assert stale.exists()

    with OutputLock(tmp_path / "out"):  # a render at work: clean refuses and touches nothing
        busy = run_cli("clean", str(project), folder=tmp_path)
    assert busy.returncode == 2
    assert "is in use by another render" in busy.stderr and stale.exists()

    cleaned = run_cli("clean", str(project), folder=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout == f"{stale}\n"
    assert f"removed 1 file, freed {size_kb:.1f} kB; 2 clips in use kept" in cleaned.stderr
    assert {path.name for path in clips.glob("*.mp4")} == current
    assert (clips / "notes.txt").read_text() == "mine"

    # the clips kept are the ones the render uses: nothing is made again
    again = run_cli("render", str(project), "--json", "--quiet", folder=tmp_path)
    assert json.loads(again.stdout)["frames_rendered"] == 0
    nothing = run_cli("clean", str(project), folder=tmp_path)
    assert nothing.stdout == "" and "nothing to remove; 2 clips in use kept" in nothing.stderr
