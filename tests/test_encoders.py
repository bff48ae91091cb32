"""Several clips encoded at once while frames are made: same bytes, bounded, stoppable.

The generator here is frames precomputed in memory, far faster than libx264, which is the
case where several encoders must run at once; the end-to-end tests use the tiny model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from gendisco.encoders import (
    ENCODER_QUEUE_BATCHES,
    ClipJob,
    EncoderPool,
    encoder_threads,
    max_encoders,
)
from gendisco.video import ClipWriter, join_clips
from synth import drum_song, write_audio

SIZE = 96
BATCH = 4
FRAMES_PER_CLIP = 24


def moving_frames(seed: int, count: int = FRAMES_PER_CLIP) -> np.ndarray:
    """A smooth random texture sliding 4 px a frame, so the encoder has real work to do and
    every frame differs from the next: (count, H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (SIZE // 8, (SIZE + 4 * count) // 8, 3)).astype(np.uint8)
    texture = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)
    return np.stack([texture[:, 4 * i : 4 * i + SIZE] for i in range(count)])


def jobs(folder: Path, frames: list[np.ndarray], *, made: list | None = None) -> list[ClipJob]:
    def job(index: int) -> ClipJob:
        def batches():
            for first in range(0, len(frames[index]), BATCH):
                if made is not None:
                    made.append(index)
                yield frames[index][first : first + BATCH]
            if made is not None:
                made.append(("all made", index))

        return ClipJob(
            name=index,
            writer=lambda: ClipWriter(
                folder / f"{index:03d}.mp4",
                fps=12,
                width=SIZE,
                height=SIZE,
                preset="medium",
                threads=1,
            ),
            frames=batches,
            first_frame=index * FRAMES_PER_CLIP,
        )

    return [job(index) for index in range(len(frames))]


# The same frames encoded twice in this pipeline can decode a little differently from one run
# to the next when the machine is busy (measured: up to 0.16 grey levels on average over a
# frame on a quiet machine, 0.99 on a loaded one); frames of another picture differ by tens
# of levels, and the order checks below catch a frame in the wrong place.
SAME = 2.0


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b).mean())


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    return [moving_frames(seed) for seed in range(6)]


def test_a_fast_generator_fills_several_encoders_and_the_clips_keep_their_frames(
    tmp_path, clip_frames
):
    results = {}
    for encoders in (1, 3):
        folder = tmp_path / f"e{encoders}"
        done: list[int] = []
        pool = EncoderPool(encoders=encoders, on_clip_done=lambda job, d=done: d.append(job.name))
        pool.run(jobs(folder, clip_frames))
        assert pool.most_at_once == encoders
        assert sorted(done) == list(range(6))
        results[encoders] = {path.name: path.read_bytes() for path in folder.glob("*.mp4")}
        assert not list(folder.glob(".*.part"))
    assert len(results[1]) == len(results[3]) == 6
    for index, frames in enumerate(clip_frames):  # every frame, in order, as with 1 encoder
        one = decoded(tmp_path / "e1" / f"{index:03d}.mp4")
        got = decoded(tmp_path / "e3" / f"{index:03d}.mp4")
        assert len(got) == FRAMES_PER_CLIP
        assert max(mean_difference(a, b) for a, b in zip(got, one, strict=True)) < SAME
        for position, frame in enumerate(got):
            errors = [mean_difference(frame, source) for source in frames]
            assert np.argmin(errors) == position, "frames out of order"
            other = clip_frames[(index + 1) % len(clip_frames)][position]
            assert errors[position] < mean_difference(frame, other) / 3
    finals = []
    for encoders in (1, 3):
        clips = sorted((tmp_path / f"e{encoders}").glob("*.mp4"))
        join_clips(clips, tmp_path / f"final{encoders}.mp4", fps=12)
        finals.append(decoded(tmp_path / f"final{encoders}.mp4"))
    assert len(finals[0]) == len(finals[1]) == 6 * FRAMES_PER_CLIP
    assert max(mean_difference(a, b) for a, b in zip(*finals, strict=True)) < SAME


def test_automatic_choice_follows_the_generators_speed(tmp_path, clip_frames):
    fast = EncoderPool(cores=16)
    fast.run(jobs(tmp_path / "fast", clip_frames))
    assert fast.most_at_once == max_encoders(16) == 4
    assert (encoder_threads(2), max_encoders(2)) == (1, 2)
    assert (encoder_threads(64), max_encoders(64)) == (4, 16)

    def slow_frames(index: int):  # a generator far slower than the encoder
        import time

        for first in range(0, FRAMES_PER_CLIP, BATCH):
            time.sleep(0.15)
            yield clip_frames[index][first : first + BATCH]

    slow_jobs = jobs(tmp_path / "slow", clip_frames[:4])
    for job in slow_jobs:
        job.frames = lambda index=job.name: slow_frames(index)
    slow = EncoderPool(cores=16)
    slow.run(slow_jobs)
    # one clip in the making, at most the previous one still finishing
    assert slow.most_at_once <= 2
    assert len(list((tmp_path / "slow").glob("*.mp4"))) == 4


def test_memory_stays_bounded_by_the_queues(tmp_path, clip_frames):
    made = 0
    in_flight = []
    pool = EncoderPool(encoders=2)

    def count(job, frames: int, seconds: float) -> None:
        nonlocal made
        made += frames
        in_flight.append((made - pool.frames_encoded) // BATCH)

    pool.on_frames = count
    pool.run(jobs(tmp_path, clip_frames))
    assert made == pool.frames_encoded == 6 * FRAMES_PER_CLIP
    # per encoder: the batches in its queue and the one it is encoding
    assert max(in_flight) <= 2 * (ENCODER_QUEUE_BATCHES + 1)
    assert max(in_flight) >= ENCODER_QUEUE_BATCHES, "the generator should have run ahead"


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_stop_keeps_the_clips_whose_frames_were_all_made(tmp_path, clip_frames, failure):
    folder = tmp_path / "clips"
    made: list = []
    pending = jobs(folder, clip_frames[:3], made=made)
    seen_unfinished = []

    def failing():  # clip 1 fails once clip 0's frames are all made
        while ("all made", 0) not in made:
            yield clip_frames[1][:BATCH]
        seen_unfinished.append(not (folder / "000.mp4").exists())  # still encoding
        raise failure("stop")

    pending[1].frames = failing
    done: list[int] = []
    pool = EncoderPool(encoders=2, on_clip_done=lambda job: done.append(job.name))
    with pytest.raises(failure):
        pool.run(pending)
    assert seen_unfinished == [True]
    assert done == [0]
    assert sorted(path.name for path in folder.iterdir()) == ["000.mp4"], "no partial file"
    assert len(decoded(folder / "000.mp4")) == FRAMES_PER_CLIP


# ------------------------------------------------------------------ end to end, tiny model


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("song")
    track = drum_song(120, 8.0, seed=5)
    return write_audio(folder / "song.wav", track.y, track.sr)


def write_project(folder: Path, song: Path) -> Path:
    document = {
        "song": str(song),
        "output": "out",
        "model": "tiny",
        "width": 64,
        "height": 64,
        "fps": 12,
        "steps": 2,
        "guidance": 0.0,
        "scheduler": "ddim",
        "intervals": [
            {
                "start": float(k),
                "end": float(k + 1) + (0.5 if k == 2 else 0.0),
                "transition": "color",
                "from": {"prompt": f"a scene number {k}", "seed": k},
                "to": {"prompt": f"a scene number {k}, golden hour"},
            }
            for k in (0, 1, 2, 4)  # a gap from 3.5 s to 4 s
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env, "GENDISCO_DEBUG": ""},
    )


def test_render_with_one_or_three_encoders_gives_the_same_frames(tmp_path, song):
    env = {"GENDISCO_CACHE_DIR": str(tmp_path / "cache")}
    finals = []
    for encoders in ("1", "3"):
        project = write_project(tmp_path / encoders, song)
        result = run_cli(
            "render", str(project), "--quiet", "--json", "--encoders", encoders, env=env
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["frames_total"] == 12 * 5
        finals.append(decoded(Path(summary["final"])))
    assert len(finals[0]) == len(finals[1]) == 12 * 5
    assert max(mean_difference(a, b) for a, b in zip(*finals, strict=True)) < SAME
    with av.open(str(tmp_path / "3" / "out" / "final.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


@pytest.mark.parametrize("value", ["0", "-2"])
def test_encoders_below_one_is_a_one_line_user_error(tmp_path, song, value):
    project = write_project(tmp_path, song)
    result = run_cli("render", str(project), "--encoders", value, env={})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ") and "--encoders" in result.stderr
    assert not (tmp_path / "out" / "clips").exists()
