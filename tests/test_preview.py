"""`gendisco preview`: contact sheets of seeds and of a project's keyframes (tiny model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from gendisco.cli import app
from gendisco.preview import BACKGROUND, contact_sheet

TILE = ["--model", "tiny", "--device", "cpu", "--width", "64", "--height", "64"]

PROJECT = """\
song: song.wav
model: tiny
width: 64
height: 64
steps: 2
seed: 42
style: "ink drawing"
intervals:
  - start: 0
    end: 4
    transition: color
    from: {prompt: "a city skyline at dusk", seed: 7}
    to: {prompt: "a city skyline at dusk, neon pink"}
  - start: 4
    end: 8
    transition: subject
    to: {prompt: "a flock of flamingos"}
"""


def read_sheet(path: Path) -> tuple[np.ndarray, dict]:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")), json.loads(image.text["gendisco"])


def tiles(pixels: np.ndarray, meta: dict) -> list[np.ndarray]:
    return [pixels[top:bottom, left:right] for left, top, right, bottom in meta["boxes"]]


def keyframes(prompts: list[str], seeds: list[int]) -> np.ndarray:
    from gendisco.models import generate_images, load_pipeline

    pipe = load_pipeline("tiny", device="cpu", scheduler="euler")
    return generate_images(
        pipe, prompts=prompts, seeds=seeds, width=64, height=64, steps=2, guidance=0.0
    )


def test_seed_sheet_has_one_labelled_tile_per_seed_and_is_repeatable(tmp_path):
    args = ["preview", "a neon city at night", "--seeds", "3", "--first-seed", "5", *TILE]
    first = tmp_path / "first.png"
    done = subprocess.run(
        [sys.executable, "-m", "gendisco", *args, "--out", str(first)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(first)

    second = tmp_path / "second.png"
    result = CliRunner().invoke(app, [*args, "--out", str(second)])
    assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()

    pixels, meta = read_sheet(first)
    assert meta["labels"] == ["seed 5", "seed 6", "seed 7"]
    assert meta["title"] == "a neon city at night"
    shown = tiles(pixels, meta)
    expected = keyframes(["a neon city at night"] * 3, [5, 6, 7])
    for tile, image in zip(shown, expected, strict=True):
        assert tile.shape == (64, 64, 3)
        assert np.abs(tile.astype(int) - image).max() <= 1
    assert not np.array_equal(shown[0], shown[1])
    # a caption is drawn under every tile
    for left, _, right, bottom in meta["boxes"]:
        caption = pixels[bottom + 2 : bottom + 20, left:right]
        assert (np.abs(caption.astype(int) - BACKGROUND).sum(axis=-1) > 200).any()
    height, width, _ = pixels.shape
    assert max(box[2] for box in meta["boxes"]) < width
    assert max(box[3] for box in meta["boxes"]) < height


def test_a_prompt_longer_than_the_model_reads_is_named(tmp_path):
    prompt = ", ".join(["the sun at noon, red"] * 16) + ", in the rain"
    out = tmp_path / "long.png"
    result = CliRunner().invoke(app, ["preview", prompt, "--seeds", "1", *TILE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: the prompt: " in result.stderr and "changed nothing" in result.stderr
    short = CliRunner().invoke(
        app, ["preview", "the sun at noon", "--seeds", "1", *TILE, "--out", str(out)]
    )
    assert short.exit_code == 0 and "warning" not in short.stderr


def test_project_sheet_shows_an_intervals_start_and_end_keyframes(tmp_path):
    project = tmp_path / "demo.yaml"
    project.write_text(PROJECT, encoding="utf-8")
    out = tmp_path / "keys.png"
    result = CliRunner().invoke(
        app, ["preview", str(project), "--interval", "1", "--device", "cpu", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    pixels, meta = read_sheet(out)
    start, end = meta["labels"]
    # interval 1 continues from interval 0's end; a subject change takes seed + 1
    assert start.startswith("1 start") and "seed 7" in start
    assert "a city skyline at dusk, neon pink, ink drawing" in start
    assert end.startswith("1 end") and "seed 8" in end and "a flock of flamingos" in end
    expected = keyframes(
        ["a city skyline at dusk, neon pink, ink drawing", "a flock of flamingos, ink drawing"],
        [7, 8],
    )
    left, right = tiles(pixels, meta)
    assert np.abs(left.astype(int) - expected[0]).max() <= 1
    assert np.abs(right.astype(int) - expected[1]).max() <= 1
    # side by side
    assert meta["boxes"][0][1] == meta["boxes"][1][1]


def test_project_sheet_without_interval_shows_every_interval(tmp_path):
    project = tmp_path / "demo.yaml"
    project.write_text(PROJECT, encoding="utf-8")
    out = tmp_path / "all.png"
    result = CliRunner().invoke(
        app, ["preview", str(project), "--device", "cpu", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    _, meta = read_sheet(out)
    assert [label.split(" (")[0] for label in meta["labels"]] == [
        "0 start",
        "0 end",
        "1 start",
        "1 end",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{project}", "--interval", "5"], "interval 5 does not exist"),
        (["a prompt", "--interval", "0"], "--interval needs a project file"),
        (["{missing}"], "project file not found"),
        (["a prompt", "--out", "{tmp}/sheet.jpg"], "PNG"),
        (["a prompt", "--scheduler", "eulr"], "unknown scheduler"),
    ],
)
def test_preview_mistakes_exit_2_with_one_line(tmp_path, args, message):
    project = tmp_path / "demo.yaml"
    project.write_text(PROJECT, encoding="utf-8")
    values = dict(project=project, missing=tmp_path / "nope.yaml", tmp=tmp_path)
    argv = ["preview", *[arg.format(**values) for arg in args], *TILE[:4]]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "x.png")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.png").exists()


def test_contact_sheet_places_each_image_in_its_box():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 32, 48, 3), dtype=np.uint8)
    sheet = contact_sheet(images, [f"seed {i}" for i in range(5)], title="t")
    pixels = np.asarray(sheet.image)
    assert len({box[1] for box in sheet.boxes}) == 2  # 4 columns: two rows
    for image, (left, top, right, bottom) in zip(images, sheet.boxes, strict=True):
        assert np.array_equal(pixels[top:bottom, left:right], image)
    with pytest.raises(ValueError, match="labels"):
        contact_sheet(images, ["one"])


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_sheets_are_written_with_the_users_umask(tmp_path, umask, mode):
    import os

    from gendisco.preview import save_sheet

    sheet = contact_sheet(np.zeros((1, 8, 8, 3), dtype=np.uint8), ["seed 0"])
    previous = os.umask(umask)
    try:
        path = save_sheet(sheet, tmp_path / "sheet.png")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]  # no temporary file left
