"""One render at a time per output folder, checked with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from gendisco.lock import LOCK_NAME, OutputBusy, OutputLock, lock_holder
from gendisco.rendering import check_output_writable
from synth import drum_song, write_audio

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gendisco.lock import OutputLock
    with OutputLock(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold_lock(output: Path, seconds: float = 60.0) -> subprocess.Popen:
    """A separate process that holds `output`'s lock until it ends or is killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(output), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "held"
    return process


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("song")
    track = drum_song(120, 4.0, seed=5)
    return write_audio(folder / "song.wav", track.y, track.sr)


def write_project(folder: Path, song: Path) -> Path:
    document = {
        "song": str(song),
        "output": "out",
        "model": "tiny",
        "width": 64,
        "height": 64,
        "fps": 6,
        "steps": 1,
        "scheduler": "ddim",
        "preset": "ultrafast",
        "intervals": [
            {
                "start": 0.0,
                "end": 2.0,
                "transition": "color",
                "from": {"prompt": "a red sun", "seed": 1},
                "to": {"prompt": "a teal sun"},
            },
            {"start": 2.0, "end": 4.0, "hold": {"prompt": "a disco ball", "seed": 2}},
        ],
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def test_a_second_lock_in_another_process_is_refused_naming_the_holder(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(OutputBusy) as refused:
            OutputLock(tmp_path).acquire()
        message = str(refused.value)
        assert f"pid {holder.pid}" in message
        assert "this machine" in message
        seen = lock_holder(tmp_path)
        assert seen is not None and seen.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_does_not_block_the_next_render(tmp_path):
    holder = hold_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # the record stays behind ...
    assert lock_holder(tmp_path) is None  # ... but nobody holds the lock
    with OutputLock(tmp_path):
        assert lock_holder(tmp_path).pid == os.getpid()
    assert lock_holder(tmp_path) is None


def test_waiting_takes_the_lock_when_the_holder_finishes(tmp_path):
    holder = hold_lock(tmp_path, seconds=1.5)
    waited = []
    started = time.monotonic()
    with OutputLock(tmp_path, wait=True, on_wait=waited.append):
        assert time.monotonic() - started > 0.5
    assert len(waited) == 1 and waited[0].pid == holder.pid
    holder.wait()


def test_render_into_a_busy_folder_stops_with_one_line_and_touches_nothing(tmp_path, song):
    project = write_project(tmp_path, song)
    output = tmp_path / "out"
    clips = output / "clips"
    clips.mkdir(parents=True)
    in_progress = clips / ".000-00-abc.mp4.part"  # the other render's clip being written
    in_progress.write_bytes(b"half a clip")
    holder = hold_lock(output)
    try:
        result = run_cli("render", str(project), "--quiet", cwd=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: ") and f"pid {holder.pid}" in errors[0]
    assert "Traceback" not in result.stderr
    assert in_progress.exists(), "a live render's partial clip was deleted"
    assert not (output / "final.mp4").exists()


def test_abandoned_partial_files_are_cleaned_once_the_lock_is_free(tmp_path, song):
    project = write_project(tmp_path, song)
    clips = tmp_path / "out" / "clips"
    clips.mkdir(parents=True)
    abandoned = clips / ".000-00-abc.mp4.part"
    abandoned.write_bytes(b"left by a render that was killed")
    holder = hold_lock(tmp_path / "out")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = run_cli("render", str(project), "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not abandoned.exists()
    assert (tmp_path / "out" / "final.mp4").is_file()


def test_renders_starting_together_do_not_fail_each_others_write_check(tmp_path):
    """Each render checks that it can write to the output folder before it takes the lock;
    checks made at the same moment must not remove each other's probe."""
    start = threading.Barrier(4)
    errors: list[Exception] = []

    def check_repeatedly() -> None:
        start.wait()
        try:
            for _ in range(300):
                check_output_writable(tmp_path / "out")
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            errors.append(error)

    threads = [threading.Thread(target=check_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["clips"]


def test_two_renders_side_by_side_with_wait_both_finish(tmp_path, song):
    """`--interval 0` and `--interval 1` in two terminals: each waits its turn, both succeed."""
    project = write_project(tmp_path, song)
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "gendisco", "render", str(project), "--wait"]
    # a third render, busy until both are waiting (killed below, however long that takes)
    holder = hold_lock(tmp_path / "out", seconds=600)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    renders = [
        subprocess.Popen(
            [*command, "--interval", str(index)], env=env, cwd=tmp_path, stderr=log.open("w")
        )
        for index, log in enumerate(logs)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all("waiting:" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            ended = [
                log.read_text()
                for render, log in zip(renders, logs, strict=True)
                if render.poll() is not None
            ]
            assert not ended, ended
            time.sleep(0.2)
    finally:
        holder.kill()
        holder.wait()
    for render, log in zip(renders, logs, strict=True):
        assert render.wait(timeout=300) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
        assert f"pid {holder.pid}" in log.read_text()
    names = sorted(path.name[:6] for path in (tmp_path / "out" / "clips").glob("*.mp4"))
    assert names == ["000-00", "001-00"]
