"""End-to-end renders on the built-in tiny model, read back with PyAV."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from PIL import Image
from scipy.stats import spearmanr

from gendisco.audio import analyze
from gendisco.project import format_time, load_project
from gendisco.rendering import CHUNK_FRAMES, plan_render, render
from synth import drum_song, write_audio

FPS = 12
SIZE = 64


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """A 12 s drum-and-band song at 120 BPM."""
    folder = tmp_path_factory.mktemp("song")
    track = drum_song(120, 12.0, seed=3)
    return write_audio(folder / "song.wav", track.y, track.sr)


@pytest.fixture(autouse=True)
def analysis_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GENDISCO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def write_project(folder: Path, song: Path, intervals: list[dict], **settings) -> Path:
    document = {
        "song": str(song),
        "output": "out",
        "model": "tiny",
        "width": SIZE,
        "height": SIZE,
        "fps": FPS,
        "steps": 2,
        "guidance": 0.0,
        "scheduler": "ddim",
        "preset": "ultrafast",
        **settings,
        "intervals": intervals,
    }
    path = folder / "project.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


THREE_INTERVALS = [
    {
        "start": 0.0,
        "end": 3.0,
        "transition": "color",
        "from": {"prompt": "a city skyline at dusk", "seed": 7},
        "to": {"prompt": "a city skyline at dusk, neon pink and teal"},
    },
    {"start": 3.0, "end": 5.0, "hold": {"prompt": "a mirror disco ball", "seed": 3}},
    {
        "start": 5.5,  # a gap of half a second: held on the previous frame
        "end": 8.25,
        "transition": "subject",
        "to": {"prompt": "a flock of flamingos over the sea", "seed": 11},
    },
]


def read_video(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        info = {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "video_s": float(video.duration * video.time_base),
            "audio_codec": audio.codec_context.name if audio else None,
            "audio_s": float(audio.duration * audio.time_base) if audio else None,
        }
        info["frames"] = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return info


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gendisco", *args],
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, song):
    """One render of the three-interval project through the real CLI."""
    folder = tmp_path_factory.mktemp("render")
    project = write_project(folder, song, THREE_INTERVALS)
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(folder / "cache")}
    result = run_cli("render", str(project), "--json", "--frames", env=env)
    return project, result


def test_a_render_shows_no_python_warnings_from_the_libraries(rendered):
    # a FutureWarning from diffusers or transformers on every load reads as a fault to a user
    _, result = rendered
    assert result.returncode == 0, result.stderr
    assert not re.findall(r"\b\w+Warning\b", result.stderr), result.stderr


def test_render_writes_final_video_with_exact_frames_and_audio(rendered):
    project, result = rendered
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    final = Path(summary["final"])
    video = read_video(final)
    expected_frames = round(8.25 * FPS) - round(0.0 * FPS)
    assert len(video["frames"]) == expected_frames == summary["frames_total"]
    assert video["codec"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (SIZE, SIZE)
    assert video["audio_codec"] == "aac"
    assert abs(video["audio_s"] - expected_frames / FPS) <= 1 / FPS
    assert abs(video["video_s"] - expected_frames / FPS) <= 1 / FPS
    manifest = json.loads((project.parent / "out" / "render.json").read_text())
    assert manifest["project"]["model"] == "tiny"
    assert {"torch", "diffusers", "av"} <= set(manifest["versions"])
    assert [item["frames"] for item in manifest["intervals"]] == [36, 24, 33]
    assert all(item["frames_per_second"] > 0 for item in manifest["intervals"])


def test_gap_holds_the_previous_frame(rendered):
    project, _ = rendered
    frames = read_video(project.parent / "out" / "final.mp4")["frames"]
    gap = frames[60:66]  # 5.0 s .. 5.5 s at 12 fps
    held = frames[59].astype(int)
    # a frame into the next interval (its first frame continues from the held picture)
    next_interval = frames[80].astype(int)
    for frame in gap:  # the held frame is encoded again, so allow the encoder's loss
        assert np.abs(frame.astype(int) - held).mean() < 6.0
        assert np.abs(frame.astype(int) - held).mean() < np.abs(next_interval - held).mean()


def png(frames: Path, index: int) -> np.ndarray:
    return np.asarray(Image.open(frames / f"{index:06d}.png"))


def test_lossless_frames_cover_every_frame_of_the_video_gaps_included(rendered):
    project, _ = rendered
    out = project.parent / "out"
    count = len(read_video(out / "final.mp4")["frames"])
    names = sorted(path.name for path in (out / "frames").iterdir())
    assert names == [f"{index:06d}.png" for index in range(count)]  # once each, nothing else
    held = png(out / "frames", 59)  # the gap from 5.0 s to 5.5 s holds frame 59, losslessly
    for index in range(60, 66):
        assert np.array_equal(png(out / "frames", index), held)
    assert not np.array_equal(png(out / "frames", 66), held)


def test_frames_follow_the_clips_after_edits_made_without_frames(tmp_path, song):
    """PNGs are the video's frames, not whatever an older render left: an interval edited and
    rendered without --frames gets its PNGs made again by the next --frames render, and a
    video that got shorter loses the PNGs past its end."""
    intervals = [
        {"start": 0.0, "end": 2.0, "hold": {"prompt": "a red sun over the sea", "seed": 2}},
        {"start": 2.0, "end": 4.0, "hold": {"prompt": "a city skyline at night", "seed": 4}},
    ]
    project = write_project(tmp_path, song, intervals)
    frames = tmp_path / "out" / "frames"
    render(project, write_frames=True)
    before = {index: png(frames, index) for index in (FPS, 3 * FPS)}

    intervals[1]["hold"]["prompt"] = "a forest at dawn, teal"
    project = write_project(tmp_path, song, intervals)
    assert render(project).frames_rendered == 2 * FPS  # no --frames: the PNGs stay behind
    again = render(project, write_frames=True)
    assert again.frames_rendered == 2 * FPS  # only the edited interval, for its PNGs
    assert np.array_equal(png(frames, FPS), before[FPS])
    assert not np.array_equal(png(frames, 3 * FPS), before[3 * FPS])
    assert render(project, write_frames=True).frames_rendered == 0  # now they are current

    intervals[1]["end"] = 3.0
    project = write_project(tmp_path, song, intervals)
    shorter = render(project, write_frames=True)
    count = len(read_video(shorter.final_path)["frames"])
    assert count == 3 * FPS
    names = sorted(path.name for path in frames.iterdir())
    assert names == [f"{index:06d}.png" for index in range(count)]
    # frames written before the record existed (or an unreadable record) are taken as they are
    for record in (None, "[1, 2]"):
        (tmp_path / "out" / "frames.json").unlink(missing_ok=True)
        if record:
            (tmp_path / "out" / "frames.json").write_text(record)
        assert render(project, write_frames=True).frames_rendered == 0


def test_continued_interval_starts_on_the_previous_end_frame(tmp_path, song):
    intervals = [
        {
            "start": 0.0,
            "end": 2.0,
            "transition": "style",
            "from": {"prompt": "a lighthouse", "seed": 5},
            "to": {"prompt": "a lighthouse, oil painting"},
        },
        {"start": 2.0, "end": 4.0, "transition": "subject", "to": {"prompt": "a whale"}},
    ]
    render(write_project(tmp_path, song, intervals), write_frames=True)
    frames = tmp_path / "out" / "frames"

    def png(index: int) -> np.ndarray:
        return np.asarray(Image.open(frames / f"{index:06d}.png"), dtype=int)

    first_end, second_start = png(2 * FPS - 1), png(2 * FPS)
    assert np.abs(second_start - first_end).max() <= 2
    assert np.abs(png(4 * FPS - 1) - second_start).mean() > 5, "the subject should change"


def test_hold_stays_close_to_its_subject_while_pulsing(rendered):
    project, _ = rendered
    frames = project.parent / "out" / "frames"
    hold = [
        np.asarray(Image.open(frames / f"{index:06d}.png"), dtype=float)
        for index in range(3 * FPS, 5 * FPS)
    ]
    first = hold[0]
    drift = [np.abs(frame - first).mean() for frame in hold]
    transition_change = np.abs(
        np.asarray(Image.open(frames / "000000.png"), dtype=float)
        - np.asarray(Image.open(frames / f"{round(5.5 * FPS):06d}.png"), dtype=float)
    ).mean()
    assert max(drift) > 0.1, "the hold should pulse"
    assert max(drift) < transition_change, "the hold drifted as far as a subject change"
    assert drift[-1] < max(drift), "the pulse should decay back toward the subject"


def test_second_run_renders_nothing_and_one_edit_renders_one_clip(tmp_path, song):
    project_path = write_project(tmp_path, song, THREE_INTERVALS)
    first = render(project_path)
    assert first.frames_rendered == 36 + 24 + 33
    clips = sorted((tmp_path / "out" / "clips").glob("*.mp4"))
    stamps = {clip.name: clip.stat().st_mtime_ns for clip in clips}

    again = render(project_path)
    assert again.frames_rendered == 0
    assert all(report.cached for report in again.intervals)
    assert {c.name: c.stat().st_mtime_ns for c in clips} == stamps

    # warp and reactivity on a hold move nothing (it moves on the beats): nothing re-renders
    moved = [dict(item) for item in THREE_INTERVALS]
    moved[1] = {**moved[1], "warp": "linear", "reactivity": 0.1}
    write_project(tmp_path, song, moved)
    assert render(project_path).frames_rendered == 0

    edited = [dict(item) for item in THREE_INTERVALS]
    edited[2] = {**edited[2], "to": {"prompt": "a flock of pelicans over the sea", "seed": 11}}
    write_project(tmp_path, song, edited)
    third = render(project_path)
    assert third.frames_rendered == 33
    assert [report.cached for report in third.intervals] == [True, True, False]
    assert read_video(third.final_path)["frames"].__len__() == 99


def test_render_one_interval_only(tmp_path, song):
    project_path = write_project(tmp_path, song, THREE_INTERVALS)
    result = render(project_path, intervals=[1])
    assert result.frames_rendered == 24
    assert result.final_path is None
    assert any("final.mp4 not built" in warning for warning in result.warnings)
    bad = run_cli("render", str(project_path), "--interval", "7", "--quiet")
    assert bad.returncode == 2
    assert "--interval 7" in bad.stderr and "Traceback" not in bad.stderr


def test_long_interval_is_split_into_chunks_with_the_same_frames(tmp_path, song):
    long_first = [{**THREE_INTERVALS[0], "end": 5.0}]
    project = load_project(write_project(tmp_path, song, long_first, fps=120))
    from gendisco.audio import analyze

    plan = plan_render(project, analyze(project.song))
    first_interval = [clip for clip in plan.clips if clip.interval == 0 and clip.kind == "interval"]
    assert len(first_interval) == -(-600 // CHUNK_FRAMES)
    assert sum(clip.frame_count for clip in first_interval) == 600
    assert [clip.first_frame for clip in first_interval] == [0, CHUNK_FRAMES]


def test_clip_names_ignore_float_noise_in_the_analysis_but_follow_the_motion(tmp_path, song):
    from gendisco.audio import analyze

    project = load_project(write_project(tmp_path, song, THREE_INTERVALS))
    analysis = analyze(project.song)
    keys = [clip.key for clip in plan_render(project, analysis).clips]
    # another machine's analysis of the same song: equal up to the last float digits
    noisy = replace(
        analysis,
        onset_envelope=analysis.onset_envelope * (1 + 1e-6),
        percussive_envelope=analysis.percussive_envelope * (1 - 1e-6),
    )
    assert [clip.key for clip in plan_render(project, noisy).clips] == keys
    calmer = [{**THREE_INTERVALS[0], "reactivity": 0.2}, *THREE_INTERVALS[1:]]
    calmer_project = load_project(write_project(tmp_path, song, calmer))
    changed = [clip.key for clip in plan_render(calmer_project, analysis).clips]
    assert changed[0] != keys[0]
    assert changed[1:] == keys[1:]


def frame_changes(frames_dir: Path, first: int, stop: int) -> np.ndarray:
    images = [
        np.asarray(Image.open(frames_dir / f"{index:06d}.png"), dtype=float)
        for index in range(first, stop)
    ]
    return np.array([np.abs(b - a).mean() for a, b in zip(images, images[1:], strict=False)])


def test_motion_follows_the_music(tmp_path, song):
    from gendisco.audio import analyze

    analysis = analyze(song)
    fps = 24
    interval = {
        "start": 0.0,
        "end": 8.0,
        "transition": "subject",
        "from": {"prompt": "a red room", "seed": 1},
        "to": {"prompt": "a blue ocean", "seed": 2},
        "warp": "onsets",
    }
    correlations = {}
    for reactivity in (1.0, 0.0):
        folder = tmp_path / f"r{reactivity}"
        folder.mkdir()
        project = write_project(
            folder, song, [{**interval, "reactivity": reactivity}], fps=fps, width=64, height=64
        )
        render(project, write_frames=True)
        changes = frame_changes(folder / "out" / "frames", 0, 8 * fps)
        # onset strength in each frame-to-frame time span
        edges = np.arange(8 * fps + 1) / fps
        strength = np.array(
            [
                analysis.onset_envelope[
                    (analysis.envelope_times_s >= a) & (analysis.envelope_times_s < b)
                ].sum()
                for a, b in zip(edges[:-2], edges[1:-1], strict=True)
            ]
        )
        correlations[reactivity] = spearmanr(changes, strength).statistic
    assert correlations[1.0] >= 0.6, correlations
    assert correlations[0.0] < 0.3, correlations


def test_output_folder_not_writable_is_a_user_error(tmp_path, song):
    if os.geteuid() == 0:
        blocker = tmp_path / "blocked"
        blocker.write_text("a file where the output folder should be")
        project = write_project(tmp_path, song, THREE_INTERVALS[:1], output="blocked/out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        project = write_project(tmp_path, song, THREE_INTERVALS[:1], output="locked/out")
    result = run_cli("render", str(project), "--quiet")
    assert result.returncode == 2
    assert "not writable" in result.stderr and "Traceback" not in result.stderr


def _wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


LONG_PROJECT = [
    {
        "start": float(2 * k),
        "end": float(2 * k + 2),
        "transition": "color",
        "from": {"prompt": f"a scene number {k}", "seed": k},
        "to": {"prompt": f"a scene number {k}, golden hour"},
    }
    for k in range(5)
]


@pytest.mark.parametrize("how", ["sigkill", "sigint"])
def test_interrupted_render_keeps_clips_and_resumes(tmp_path, song, how):
    project = write_project(tmp_path, song, LONG_PROJECT, width=128, height=128)
    clips = tmp_path / "out" / "clips"
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gendisco", "render", str(project), "--quiet", "--batch-size", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert _wait_for(lambda: len(list(clips.glob("*.mp4"))) >= 1, 240), "no clip appeared"
        process.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGINT)
        stopped_at = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        waited = time.monotonic() - stopped_at
    finally:
        process.kill()
    kept = sorted(clips.glob("*.mp4"))
    assert 1 <= len(kept) < 5, "the render should have been stopped part way"
    if how == "sigint":
        assert process.returncode == 130
        assert waited < 5
        assert "Traceback" not in stderr
        assert not list(clips.glob(".*.part")), "a partial clip was left behind"
        assert stderr.splitlines()[-1] == (
            f"interrupted: {len(kept)} of 5 clips done and kept ({len(kept)} made in this "
            f"run); run `gendisco render {project} --quiet --batch-size 2` again to resume"
        )
    for clip in kept:  # every finished clip is a whole, readable video
        assert len(read_video(clip)["frames"]) == 2 * FPS

    resumed = run_cli("render", str(project), "--json", env=env)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["frames_rendered"] == (5 - len(kept)) * 2 * FPS
    assert len(read_video(Path(summary["final"]))["frames"]) == 10 * FPS
    assert not list(clips.glob(".*.part"))


def test_interrupted_frames_render_resumes_to_a_complete_sequence(tmp_path, song):
    intervals = [*LONG_PROJECT[:4], {**LONG_PROJECT[4], "start": 8.5}]  # a gap at 8.0-8.5 s
    project = write_project(tmp_path, song, intervals, width=128, height=128)
    out = tmp_path / "out"
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "gendisco", "render", str(project), "--quiet", "--frames"]
    process = subprocess.Popen(
        [*command, "--batch-size", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        found = _wait_for(lambda: len(list((out / "clips").glob("*.mp4"))) >= 1, 240)
        assert found, "no clip appeared"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        process.kill()
    kept = sorted((out / "clips").glob("*.mp4"))
    assert 1 <= len(kept) < 5, "the render should have been stopped part way"
    kept_frames = sum(len(read_video(clip)["frames"]) for clip in kept)
    # what a kill in the middle of writing a PNG leaves behind
    (out / "frames" / ".000100.png.part").write_bytes(b"\x89PNG half")

    resumed = run_cli("render", str(project), "--frames", "--json", "--quiet", env=env)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["frames_rendered"] == 4 * 2 * FPS + round(1.5 * FPS) - kept_frames
    count = len(read_video(Path(summary["final"]))["frames"])
    assert count == 10 * FPS
    names = sorted(path.name for path in (out / "frames").iterdir())
    assert names == [f"{index:06d}.png" for index in range(count)]
    for index in range(8 * FPS, round(8.5 * FPS)):  # the gap holds frame 95
        assert np.array_equal(png(out / "frames", index), png(out / "frames", 8 * FPS - 1))


def test_one_interval_reports_only_what_is_on_disk(tmp_path, song):
    project = write_project(tmp_path, song, THREE_INTERVALS)
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache")}
    result = run_cli("render", str(project), "--interval", "1", "--json", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    clips = tmp_path / "out" / "clips"
    manifest = json.loads((tmp_path / "out" / "render.json").read_text())
    for summary in (json.loads(result.stdout), manifest):
        states = {item["index"]: item for item in summary["intervals"]}
        assert states[1]["state"] == "rendered" and len(states[1]["clips"]) == 1
        for index in (0, 2):  # never rendered: neither cached nor named
            assert states[index]["state"] == "missing"
            assert states[index]["cached"] is False and states[index]["clips"] == []
        named = {name for item in summary["intervals"] for name in item["clips"]}
        assert named == {path.name for path in clips.glob("*.mp4") if "-gap-" not in path.name}
    assert "final.mp4 not built: 2 intervals are not rendered yet" in result.stderr


def test_path_of_final_mp4_on_stdout_plan_and_estimate_on_stderr(tmp_path, song):
    project = write_project(tmp_path, song, THREE_INTERVALS[:1])
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache")}
    first = run_cli("render", str(project), "--batch-size", "4", env=env)
    assert first.returncode == 0, first.stderr
    final = tmp_path / "out" / "final.mp4"
    assert first.stdout == f"{final}\n"
    lines = first.stderr.splitlines()
    assert "plan: 36 frames to make in 1 clip; 0 of 1 clip cached" in lines
    estimate = [line for line in lines if line.startswith("estimate: ")]
    assert len(estimate) == 1 and "more for 32 frames at" in estimate[0], first.stderr
    assert lines.index("plan: 36 frames to make in 1 clip; 0 of 1 clip cached") < lines.index(
        estimate[0]
    )
    assert f"{final}: 36 frames, 36 made in this run" in first.stderr
    again = run_cli("render", str(project), env=env)
    assert again.stdout == f"{final}\n"
    assert "plan: nothing to render; 1 of 1 clip cached" in again.stderr.splitlines()
    assert "1 interval: 1 cached" in again.stderr


def test_draft_is_small_low_fps_tiny_and_kept_apart_from_real_clips(tmp_path, song):
    # the project's model is not downloaded: a draft does not need it
    project = write_project(
        tmp_path,
        song,
        THREE_INTERVALS[:1],
        width=512,
        height=288,
        fps=24,
        steps=4,
        guidance=7.5,
        model="stabilityai/sd-turbo",
    )
    env = {**os.environ, "GENDISCO_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = run_cli("render", str(project), "--draft", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    final = tmp_path / "out" / "draft" / "final.mp4"
    assert result.stdout == f"{final}\n"
    video = read_video(final)
    # long side 128, aspect kept as far as 16-pixel blocks allow (72 would not be one)
    assert (video["width"], video["height"]) == (128, 64)
    assert len(video["frames"]) == round(3.0 * 8)  # 8 fps
    assert not list((tmp_path / "out" / "clips").glob("*")), "drafts never mix with clips"
    manifest = json.loads((tmp_path / "out" / "draft" / "render.json").read_text())
    assert manifest["model"] == "tiny"
    assert (manifest["project"]["steps"], manifest["project"]["guidance"]) == (2, 0.0)


def test_draft_project_keeps_a_given_model_and_its_settings(tmp_path, song):
    from gendisco.rendering import draft_project

    project = load_project(write_project(tmp_path, song, THREE_INTERVALS, width=1024, fps=30))
    draft = draft_project(project, model="stabilityai/sdxl-turbo")
    assert (draft.model, draft.width, draft.height, draft.fps) == (
        "stabilityai/sdxl-turbo",
        256,
        64,  # 1024x64 scaled to 256x16, but never below the format's 64
        8.0,
    )
    assert (draft.steps, draft.guidance) == (project.steps, project.guidance)
    assert draft.output == project.output / "draft" and project.model == "tiny"
    small = load_project(write_project(tmp_path, song, THREE_INTERVALS, fps=4))
    assert (draft_project(small).width, draft_project(small).fps) == (SIZE, 4)  # never larger


def test_a_render_names_the_words_the_model_never_read(tmp_path, song):
    long = ", ".join(["the sun at noon, red"] * 16) + ", in the rain"  # past 75 tokens
    written = [
        {
            "start": 0.0,
            "end": 2.0,
            "transition": "color",
            "from": {"prompt": "the sun at noon, red", "seed": 1},
            "to": {"prompt": long},
        }
    ]
    project = write_project(tmp_path, song, written, fps=4)
    result = run_cli("render", str(project), "--json", "--batch-size", "2")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    cut = [w for w in warnings if w.startswith("intervals.0 end prompt: ")]
    assert len(cut) == 1 and len(warnings) == 1, warnings
    assert "and the model reads 75: '" in cut[0] and "in the rain' changed nothing" in cut[0]
    # said on the terminal once, as soon as the model is loaded: before a single frame is
    # made (the estimate follows the first batch), not after the whole render
    lines = result.stderr.splitlines()
    assert lines.count(f"warning: {cut[0]}") == 1, result.stderr
    estimate = next(i for i, line in enumerate(lines) if line.startswith("estimate: "))
    assert lines.index(f"warning: {cut[0]}") < estimate, result.stderr
    manifest = json.loads((tmp_path / "out" / "render.json").read_text())
    assert manifest["warnings"] == warnings


def test_snapping_to_bars_keeps_the_song_end_and_warns_of_gaps_where_they_end_up(tmp_path, song):
    written = [
        {"start": 0.3, "end": 3.3, "hold": {"prompt": "the sun at noon", "seed": 1}},
        {"start": 5.2, "end": 12.0, "hold": {"prompt": "the moon at night", "seed": 2}},
    ]
    project = write_project(tmp_path, song, written, snap="bar", fps=4)
    result = run_cli("render", str(project), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    bars = analyze(song).downbeat_times_s
    assert bars.max() < 11.0  # the song's last bar starts well before its end
    laid_out = json.loads((tmp_path / "out" / "render.json").read_text())["intervals"]
    first, second = (item["start"] for item in laid_out), (item["end"] for item in laid_out)
    (start_0, start_1), (end_0, end_1) = first, second
    assert end_1 == pytest.approx(12.0)  # written to end with the song, it still does
    for boundary in (start_0, end_0, start_1):
        assert np.isclose(bars, boundary).any() or boundary == 0.0
    video = read_video(Path(json.loads(result.stdout)["final"]))
    assert abs(video["video_s"] - (12.0 - start_0)) <= 1 / 4
    # the gap is where snapping left it (0:04-0:06), not where it was written (3.3-5.2 s)
    summary = json.loads(result.stdout)
    gaps = [warning for warning in summary["warnings"] if "gap of" in warning]
    assert gaps == [
        f"intervals.1: gap of {round(start_1 - end_0, 3):g} s after intervals.0 "
        f"({format_time(end_0)}-{format_time(start_1)} once snapped to bars); intervals.0's "
        "last frame is held until then"
    ]


def test_the_library_render_can_be_called_again_as_the_readme_shows(tmp_path, song):
    # `gendisco.render` is a function however often it is looked up, also after a script
    # imports the planning module itself
    project = write_project(
        tmp_path, song, [{"start": 0.0, "end": 2.0, "hold": {"prompt": "the sun at noon"}}], fps=4
    )
    script = (
        "import sys, gendisco\n"
        "project = gendisco.load_project(sys.argv[1])\n"
        "first = gendisco.render(project)\n"
        "from gendisco.rendering import plan_render\n"
        "again = gendisco.render(project)\n"
        "print(first.frames_rendered, again.frames_rendered, again.final_path.is_file())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(project)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["8", "0", "True"]
