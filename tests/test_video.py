"""Clips and the final video, read back with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from gendisco.errors import RenderError
from gendisco.video import ClipWriter, join_clips, last_frame, read_frames, remove_partial_files
from synth import write_audio


def write_clip(path: Path, values: list[int], *, fps: float = 24, size=(48, 32)) -> Path:
    width, height = size
    with ClipWriter(path, fps=fps, width=width, height=height, preset="ultrafast") as clip:
        for value in values:
            clip.write(np.full((height, width, 3), value, np.uint8))
    return path


def tone(path: Path, seconds: float, *, sr: int = 44100, channels: int = 2) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 330 * t).astype(np.float32)
    return write_audio(path, np.stack([y] * channels) if channels == 2 else y, sr)


def streams(path: Path) -> tuple[float, float | None, str | None]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return (
            float(video.duration * video.time_base),
            float(audio.duration * audio.time_base) if audio else None,
            container.format.name,
        )


def test_clip_appears_only_when_complete(tmp_path):
    path = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError), ClipWriter(path, fps=24, width=16, height=16) as clip:
        clip.write(np.zeros((16, 16, 3), np.uint8))
        raise RuntimeError("the model failed")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_size_is_refused(tmp_path):
    with (
        pytest.raises(RenderError, match="does not match"),
        ClipWriter(tmp_path / "c.mp4", fps=24, width=16, height=16) as clip,
    ):
        clip.write(np.zeros((8, 16, 3), np.uint8))


def test_join_keeps_every_frame_in_order_with_audio_cut_to_the_video(tmp_path):
    # clip lengths around the encoder's reordering delay, including a single frame
    lengths = [50, 1, 7, 2, 33]
    clips, expected = [], []
    for index, length in enumerate(lengths):
        values = [(index * 50 + 3 * i) % 250 for i in range(length)]
        clips.append(write_clip(tmp_path / f"{index}.mp4", values))
        expected += values
    song = tone(tmp_path / "song.wav", 10.0)
    final = tmp_path / "final.mp4"
    assert join_clips(clips, final, fps=24, song=song, start_s=2.0) == len(expected)
    decoded = [int(frame[0, 0, 0]) for frame in read_frames(final)]
    assert len(decoded) == len(expected)
    assert np.abs(np.array(decoded) - np.array(expected)).max() <= 3
    video_s, audio_s, _ = streams(final)
    assert abs(video_s - len(expected) / 24) < 1e-6
    assert abs(audio_s - len(expected) / 24) <= 1 / 24


def test_song_shorter_than_the_video_is_padded_with_silence(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", list(range(0, 240, 2)))  # 120 frames = 5 s
    song = tone(tmp_path / "short.flac", 1.0, sr=22050, channels=1)
    final = tmp_path / "final.mp4"
    join_clips([clip], final, fps=24, song=song, start_s=0.5)
    video_s, audio_s, _ = streams(final)
    assert abs(audio_s - video_s) <= 1 / 24


def test_final_video_starts_with_its_index_for_fast_start(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", [10] * 24)
    final = tmp_path / "final.mp4"
    join_clips([clip], final, fps=24, song=tone(tmp_path / "s.wav", 2.0))
    head = final.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_fractional_frame_rate(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", [0] * 30, fps=29.97)
    final = tmp_path / "final.mp4"
    join_clips([clip, clip], final, fps=29.97, song=tone(tmp_path / "s.wav", 3.0))
    video_s, audio_s, _ = streams(final)
    assert abs(video_s - 60 / 29.97) < 1e-3
    assert abs(audio_s - video_s) <= 1 / 29.97


def test_clips_of_different_sizes_cannot_be_joined(tmp_path):
    a = write_clip(tmp_path / "a.mp4", [0] * 3, size=(48, 32))
    b = write_clip(tmp_path / "b.mp4", [0] * 3, size=(32, 32))
    with pytest.raises(RenderError, match="different settings"):
        join_clips([a, b], tmp_path / "final.mp4", fps=24)
    assert not (tmp_path / "final.mp4").exists()


def test_last_frame_and_leftover_cleanup(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", [10, 20, 200])
    assert abs(int(last_frame(clip)[0, 0, 0]) - 200) <= 3
    (tmp_path / ".b.mp4.part").write_bytes(b"half a clip")
    assert remove_partial_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]
