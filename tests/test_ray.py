"""`gendisco render --ray`: the same video as one process, across Ray workers on this machine.

The renders run the real CLI in a subprocess, which starts its own local Ray (one CPU
worker per core: two on a two-core machine) and shuts it down at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gendisco.cli import expand_bare_ray
from synth import drum_song, write_audio
from test_render import read_video, run_cli, write_project

FPS = 64  # a long interval (over CHUNK_FRAMES frames) in a short song
INTERVALS = [
    {
        "start": 0.0,
        "end": 2.0,
        "transition": "color",
        "from": {"prompt": "a city skyline at dusk", "seed": 7},
        "to": {"prompt": "a city skyline at dusk, neon pink and teal"},
    },
    {"start": 2.0, "end": 3.5, "hold": {"prompt": "a mirror disco ball", "seed": 3}},
    {
        "start": 4.0,  # after a half-second gap
        "end": 12.0,  # 512 frames: two chunks
        "transition": "subject",
        "to": {"prompt": "a flock of flamingos over the sea", "seed": 11},
    },
]
TOTAL_FRAMES = 12 * FPS


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    track = drum_song(120, 12.0, seed=5)
    return write_audio(tmp_path_factory.mktemp("song") / "song.wav", track.y, track.sr)


def cli_env(folder: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "GENDISCO_CACHE_DIR": str(folder / "cache"), **extra}


@dataclass
class Reference:
    video: np.ndarray  # decoded final.mp4 of the single-process render, (frames, H, W, 3)
    encoder_noise: float  # mean |decoded - lossless PNG| of that render, in levels


@pytest.fixture(scope="module")
def single_process(tmp_path_factory, song) -> Reference:
    """The reference: the same project rendered without Ray (with its lossless frames)."""
    folder = tmp_path_factory.mktemp("single")
    project = write_project(folder, song, INTERVALS, fps=FPS)
    done = run_cli("render", str(project), "--quiet", "--frames", env=cli_env(folder))
    assert done.returncode == 0, done.stderr
    video = np.array(read_video(folder / "out" / "final.mp4")["frames"], dtype=np.int16)
    pngs = sorted((folder / "out" / "frames").glob("*.png"))
    lossless = np.array([np.asarray(Image.open(png).convert("RGB")) for png in pngs])
    rendered = [int(png.stem) for png in pngs]  # gap frames have no PNG
    noise = np.abs(video[rendered] - lossless).mean()
    return Reference(video, float(noise))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ("p.yaml --ray", "p.yaml --ray local"),
        ("--ray p.yaml", "--ray local p.yaml"),
        ("p.yaml --ray --quiet", "p.yaml --ray local --quiet"),
        ("p.yaml --ray auto", "p.yaml --ray auto"),
        ("--ray ray://head:10001 p.yaml", "--ray ray://head:10001 p.yaml"),
        ("--ray 10.0.0.5:6379 p.yaml", "--ray 10.0.0.5:6379 p.yaml"),
        ("p.yaml", "p.yaml"),
    ],
)
def test_bare_ray_flag_means_a_local_ray(argv, expected):
    assert expand_bare_ray(["render", *argv.split()]) == ["render", *expected.split()]


def test_ray_flag_without_ray_installed_says_how_to_install(tmp_path, song):
    # a `ray` package that fails to import, as on a machine without the extra
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    project = write_project(tmp_path, song, INTERVALS, fps=FPS)
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    done = run_cli("render", str(project), "--ray", env=cli_env(tmp_path, PYTHONPATH=path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: --ray needs Ray, an optional extra: pip install 'gendisco[ray]'"
    )
    assert not list((tmp_path / "out" / "clips").glob("*.mp4"))


needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="needs the ray extra: pip install -e .[ray]"
)


def manifest(folder: Path) -> dict:
    return json.loads((folder / "out" / "render.json").read_text())


def assert_same_video(path: Path, reference: Reference) -> None:
    """Equal to the single-process video within encoder noise, frame by frame.

    Not bit-identical on the CPU: a Ray worker runs torch on the one core Ray gives it,
    the single process on all of them, and a different thread count sums the convolutions
    in a different order (differences around 1e-6), which H.264 can round either way.
    """
    frames = np.array(read_video(path)["frames"], dtype=np.int16)
    assert frames.shape == reference.video.shape
    assert len(frames) == TOTAL_FRAMES
    difference = np.abs(frames - reference.video).reshape(len(frames), -1).mean(axis=1)
    assert difference.mean() < reference.encoder_noise / 4, (difference.mean(), reference)
    assert difference.max() < reference.encoder_noise, (difference.max(), reference)


@needs_ray
def test_ray_render_is_the_single_process_video(tmp_path, song, single_process):
    project = write_project(tmp_path, song, INTERVALS, fps=FPS)
    done = run_cli("render", str(project), "--ray", "--quiet", env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert_same_video(tmp_path / "out" / "final.mp4", single_process)
    assert read_video(tmp_path / "out" / "final.mp4")["audio_codec"] == "aac"
    document = manifest(tmp_path)
    assert document["device"]["executor"] == "ray"
    long_interval = document["intervals"][2]
    assert long_interval["frames"] == 8 * FPS
    assert len(long_interval["clips"]) == 2  # one interval, two Ray tasks
    assert len(long_interval["workers"]) == 2
    # a second run finds every clip and renders nothing
    again = run_cli("render", str(project), "--ray", "--json", env=cli_env(tmp_path))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["frames_rendered"] == 0


def render_task_pids() -> list[int]:
    """Ray workers busy with a clip (Ray titles a worker process by its current task)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if title.startswith(b"ray::render_clip_task"):
                pids.append(int(entry.name))
    return pids


@needs_ray
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray workers through /proc")
def test_killing_a_worker_mid_render_still_ends_in_the_same_video(tmp_path, song, single_process):
    project = write_project(tmp_path, song, INTERVALS, fps=FPS)
    process = subprocess.Popen(
        [sys.executable, "-m", "gendisco", "render", str(project), "--ray", "--quiet"],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        busy = render_task_pids()
        if busy:
            time.sleep(1.0)  # let it get some frames done, then kill it mid-clip
            try:
                os.kill(busy[0], signal.SIGKILL)
                killed = busy[0]
            except ProcessLookupError:
                continue
        time.sleep(0.1)
    _, stderr = process.communicate(timeout=300)
    assert killed is not None, "no Ray worker was seen rendering"
    assert process.returncode == 0, stderr
    assert_same_video(tmp_path / "out" / "final.mp4", single_process)
    workers = [w for interval in manifest(tmp_path)["intervals"] for w in interval["workers"]]
    assert len(workers) == 4  # every clip, including the retried one
    assert all(not worker.startswith(f"{killed}@") for worker in workers)


class FakeCluster:
    def __init__(self, **resources: float):
        self.resources = resources

    def cluster_resources(self) -> dict[str, float]:
        return self.resources


@pytest.mark.parametrize(
    ("resources", "device", "expected"),
    [
        ({"CPU": 16, "GPU": 4}, None, ({"num_gpus": 1, "num_cpus": 1}, "cuda")),
        ({"CPU": 16, "GPU": 4}, "cuda:1", ({"num_gpus": 1, "num_cpus": 1}, "cuda")),
        ({"CPU": 16, "GPU": 4}, "cpu", ({"num_cpus": 1}, "cpu")),
        ({"CPU": 2}, None, ({"num_cpus": 1}, "cpu")),
    ],
)
def test_one_gpu_per_task_where_there_are_gpus(resources, device, expected):
    from gendisco.distributed import task_resources

    assert task_resources(FakeCluster(**resources), device) == expected


def test_asking_for_cuda_on_a_cluster_without_gpus_is_a_user_error():
    from gendisco.distributed import task_resources
    from gendisco.errors import UserError

    with pytest.raises(UserError, match="--device cuda: the Ray cluster has no GPUs"):
        task_resources(FakeCluster(CPU=8), "cuda")


# --- failures and interruptions --------------------------------------------------------------


def test_a_failure_says_how_often_the_clip_was_tried_only_when_it_was_retried():
    from types import SimpleNamespace

    from gendisco.distributed import failure_line

    clip = SimpleNamespace(interval=2, first_frame=256, frame_count=480)
    assert failure_line(clip, "its worker process died", 3) == (
        "interval 2, frames 256-735: failed on Ray after 3 tries: its worker process died; "
        "finished clips are kept, run the render again to retry"
    )
    once = failure_line(clip, "ValueError: bad frame", 1)
    assert once.startswith("interval 2, frames 256-735: failed on Ray: ValueError: bad frame;")
    assert "tries" not in once and "tries" not in failure_line(clip, "?", 0)


@needs_ray
def test_a_clip_that_fails_every_try_stops_with_one_line_naming_the_tries(tmp_path, song):
    # a model folder every worker fails to load (a pipeline type gendisco does not run):
    # the driver only checks that it exists, and Ray retries a model error like a lost worker
    model = tmp_path / "unsupported-model"
    model.mkdir()
    (model / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    hold = {"start": 0.0, "end": 1.0, "hold": {"prompt": "a mirror disco ball", "seed": 3}}
    project = write_project(tmp_path, song, [hold], fps=FPS, model=str(model))

    done = run_cli("render", str(project), "--ray", "--quiet", env=cli_env(tmp_path))

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: interval 0, frames 0-{FPS - 1}: failed on Ray after 3 tries: model "
        f"'{model}' is a FluxPipeline; gendisco runs Stable Diffusion 1.x/2.x, SD-Turbo, SDXL "
        "and SDXL-Turbo pipelines; finished clips are kept, run the render again to retry"
    ], done.stderr


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Ray's own processes and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":  # a zombie has exited; only its parent has yet to reap it
            alive.add(pid)
    return alive


def ctrl_c(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)  # a terminal signals the whole foreground group


@needs_ray
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds Ray's processes through /proc")
# SIGTERM (`kill PID`) takes the same path in gendisco; it is not run here because Ray's own
# core worker sometimes aborts on a task completing after the cancel ("Tried to complete task
# that was not pending"), which makes the exit status Ray's rather than ours.
def test_ctrl_c_keeps_finished_clips_stops_the_workers_and_a_rerun_resumes(tmp_path, song):
    project = write_project(tmp_path, song, INTERVALS, fps=FPS)
    clips = tmp_path / "out" / "clips"
    process = subprocess.Popen(
        [sys.executable, "-m", "gendisco", "render", str(project), "--ray", "--quiet"],
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )
    ray_processes: set[int] = set()
    finished: list[Path] = []
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline:
        ray_processes |= descendants(process.pid)
        finished = sorted(clips.glob("*.mp4"))
        if finished and set(render_task_pids()) & ray_processes:  # one done, more rendering
            break
        time.sleep(0.1)
    assert finished, "no clip was finished while others were still rendering"
    kept = {path.name: path.stat().st_mtime_ns for path in finished}

    ctrl_c(process)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted:" in stderr and "again to resume" in stderr, stderr
    assert {path.name for path in clips.iterdir()} >= set(kept)
    assert all(path.suffix == ".mp4" for path in clips.iterdir())  # no partial file left
    deadline = time.monotonic() + 30
    while running(ray_processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(ray_processes), "Ray processes outlived the interrupted render"

    again = run_cli("render", str(project), "--ray", "--json", env=cli_env(tmp_path))
    assert again.returncode == 0, again.stderr
    rendered = sum(interval["end"] - interval["start"] for interval in INTERVALS) * FPS
    assert 0 < json.loads(again.stdout)["frames_rendered"] < rendered
    for name, mtime in kept.items():  # the finished clips were used, not made again
        assert (clips / name).stat().st_mtime_ns == mtime
