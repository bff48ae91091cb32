"""Video files through PyAV: encode clips, join them, add the song's audio.

Clips are H.264 with identical encoder settings, so `join_clips` copies their packets
into the final file without decoding or encoding the picture a second time; only the
audio is encoded there. Every file is written under a temporary name and renamed once
complete, so a killed process never leaves a broken clip or final video behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from gendisco.errors import AudioError, RenderError

VIDEO_CODEC = "libx264"
AUDIO_CODEC = "aac"
AUDIO_BITRATE = 192_000
# AAC encodes these rates; anything else is resampled to 48 kHz.
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


def frame_rate(fps: float) -> Fraction:
    """fps as an exact fraction (23.976 -> 2997/125), as the container stores it."""
    return Fraction(fps).limit_denominator(1001)


def temporary_path(path: Path) -> Path:
    """Where `path` is written before it is complete: hidden, same folder, same filesystem."""
    return path.with_name(f".{path.name}.part")


def remove_partial_files(folder: Path) -> int:
    """Delete leftovers of writes that never finished (a kill or power loss); returns count."""
    removed = 0
    if folder.is_dir():
        for leftover in folder.glob(".*.part"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def _fsync_folder(path: Path) -> None:
    """Make renames inside `path` durable."""
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        folder = os.open(path, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _publish(temporary: Path, final: Path) -> None:
    """Make a completely written file visible under its final name, durably."""
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    _fsync_folder(final.parent)


def png_path(folder: Path, frame_index: int) -> Path:
    """Where `--frames` writes a frame: named by its global frame index (000123.png)."""
    return folder / f"{frame_index:06d}.png"


def write_pngs(folder: Path, first_index: int, frames: np.ndarray) -> None:
    """Frames (B, H, W, 3) uint8 as lossless PNGs numbered from `first_index`.

    Each PNG is written under a temporary name and renamed once complete, so a file of the
    sequence is either whole or absent; the folder is synced once per call.
    """
    from PIL import Image

    for offset, image in enumerate(frames):
        path = png_path(folder, first_index + offset)
        temporary = temporary_path(path)
        try:
            with open(temporary, "wb") as handle:
                Image.fromarray(image).save(handle, format="PNG", compress_level=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    _fsync_folder(folder)


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that `path` is either absent or complete, never partial."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(path)
    try:
        temporary.write_bytes(data)
        _publish(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class ClipWriter:
    """Encode RGB uint8 frames into a video-only H.264 clip.

    The clip appears under `path` only when the writer closes without an exception.

        with ClipWriter(path, fps=24, width=512, height=512) as clip:
            clip.write(frames)  # (B, H, W, 3) or (H, W, 3) uint8
    """

    def __init__(
        self,
        path: Path,
        *,
        fps: float,
        width: int,
        height: int,
        crf: int = 18,
        preset: str = "medium",
        threads: int | None = None,
    ):
        self.path = Path(path)
        self.fps = fps
        self.width = width
        self.height = height
        self.crf = crf
        self.preset = preset
        self.threads = threads  # libx264's threads; None = its own choice (1.5 per core)
        self.frames_written = 0
        self._container = None
        self._stream = None

    def __enter__(self) -> ClipWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = temporary_path(self.path)
        self._container = av.open(str(self._temporary), mode="w", format="mp4")
        stream = self._container.add_stream(VIDEO_CODEC, rate=frame_rate(self.fps))
        stream.width = self.width
        stream.height = self.height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        if self.threads is not None:
            stream.codec_context.thread_count = self.threads
        self._stream = stream
        return self

    def write(self, frames: np.ndarray) -> None:
        """Encode one frame (H, W, 3) or a batch (B, H, W, 3) of RGB uint8."""
        batch = frames[None] if frames.ndim == 3 else frames
        if batch.shape[1:] != (self.height, self.width, 3):
            raise RenderError(
                f"frame size {batch.shape[2]}x{batch.shape[1]} does not match the clip's "
                f"{self.width}x{self.height}"
            )
        for image in batch:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.frames_written += 1

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            if exc_type is None:
                for packet in self._stream.encode():  # flush: without it the last frames are lost
                    self._container.mux(packet)
        finally:
            self._container.close()
        if exc_type is None:
            _publish(self._temporary, self.path)
        else:
            self._temporary.unlink(missing_ok=True)


def read_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode a video file's frames as RGB uint8 arrays (H, W, 3)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def last_frame(path: Path) -> np.ndarray:
    """The final frame of a clip, decoded (used to fill gaps between intervals)."""
    frame = None
    for frame in read_frames(path):  # noqa: B007 - we want the last one
        pass
    if frame is None:
        raise RenderError(f"{path}: clip holds no frames")
    return frame


def _clip_signature(path: Path) -> tuple:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        return (context.name, context.width, context.height, bytes(context.extradata or b""))


def can_copy_packets(clips: Sequence[Path]) -> bool:
    """True when all clips share codec, size and parameter sets, so packets can be joined."""
    return len({_clip_signature(clip) for clip in clips}) <= 1


@dataclass(frozen=True)
class EncodedAudio:
    """The song's AAC track for a video, encoded ahead of the join."""

    packets: list  # av.Packet, time base 1/rate
    rate: int
    layout: str
    duration_s: Fraction


def encode_song_audio(
    song: Path, *, start_s: float, duration_s: Fraction | float, rate_hint: int | None = None
) -> EncodedAudio:
    """Encode the song from `start_s` for exactly `duration_s` seconds as AAC packets.

    Needs no output file, so it runs while the clips render. The packets are kept in memory
    (an AAC track of a whole song is a few MB); the song is cut by sample count, and padded
    with silence if it ends early, so the audio spans the video.
    """
    try:
        source = av.open(str(song))
    except (av.error.FFmpegError, OSError) as error:
        raise AudioError(f"{song}: cannot read this file as audio ({error})") from None
    with source:
        if not source.streams.audio:
            raise AudioError(f"{song}: no audio stream in this file")
        in_stream = source.streams.audio[0]
        rate = in_stream.codec_context.sample_rate or rate_hint or 48000
        if rate not in AAC_RATES:
            rate = 48000
        layout = "mono" if in_stream.codec_context.channels == 1 else "stereo"
        channels = 1 if layout == "mono" else 2
        encoder = _audio_encoder(rate, layout)
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)

        first_sample = round(start_s * rate)
        wanted = round(duration_s * rate)
        position = 0  # samples of the resampled song seen so far
        taken = 0
        packets = []

        def encode(samples: np.ndarray) -> None:
            nonlocal taken
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = taken
            frame.time_base = Fraction(1, rate)
            taken += samples.shape[1]
            packets.extend(encoder.encode(frame))

        def take(chunk: np.ndarray) -> None:
            nonlocal position
            begin = max(first_sample - position, 0)
            end = min(first_sample + wanted - position, chunk.shape[1])
            position += chunk.shape[1]
            if end > begin:
                encode(np.ascontiguousarray(chunk[:, begin:end]))

        try:
            for decoded in source.decode(in_stream):
                for frame in resampler.resample(decoded):
                    take(frame.to_ndarray())
                if taken >= wanted:
                    break
            else:
                for frame in resampler.resample(None):
                    take(frame.to_ndarray())
        except av.error.FFmpegError as error:
            raise AudioError(f"{song}: the audio could not be decoded ({error})") from None
        if taken < wanted:  # the song is shorter than the video: pad with silence
            encode(np.zeros((channels, wanted - taken), dtype=np.float32))
        packets.extend(encoder.encode(None))
        return EncodedAudio(
            packets=[packet for packet in packets if packet.size],
            rate=rate,
            layout=layout,
            duration_s=Fraction(duration_s),
        )


def _audio_encoder(rate: int, layout: str):
    """An AAC encoder configured as `_audio_stream` configures the final file's stream, so its
    packets belong in that stream."""
    encoder = av.CodecContext.create(AUDIO_CODEC, "w")
    encoder.sample_rate = rate
    encoder.layout = layout
    encoder.format = "fltp"
    encoder.bit_rate = AUDIO_BITRATE
    encoder.time_base = Fraction(1, rate)
    encoder.open()
    return encoder


def _audio_stream(container, audio: EncodedAudio):
    stream = container.add_stream(AUDIO_CODEC, rate=audio.rate)
    stream.layout = audio.layout
    stream.bit_rate = AUDIO_BITRATE
    return stream


def join_clips(
    clips: Sequence[Path],
    out: Path,
    *,
    fps: float,
    song: Path | None = None,
    start_s: float = 0.0,
    audio: EncodedAudio | None = None,
) -> int:
    """Join video-only clips in order into `out`, with the song's audio cut to their span.

    The picture is copied packet by packet (no second encode). The audio is the song from
    `start_s` for exactly the video's duration: `audio` when it was encoded ahead (and spans
    exactly that), else encoded here. Returns the number of video frames.
    """
    if not clips:
        raise RenderError("there are no clips to join")
    if not can_copy_packets(clips):
        raise RenderError(
            "the clips were encoded with different settings and cannot be joined; "
            "delete the output's clips/ folder and render again"
        )
    rate = frame_rate(fps)
    frame_counts = [_count_frames(clip) for clip in clips]
    total_frames = sum(frame_counts)
    temporary = temporary_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(
            str(temporary), mode="w", format="mp4", options={"movflags": "+faststart"}
        ) as container:
            with av.open(str(clips[0])) as first:
                video_out = container.add_stream_from_template(first.streams.video[0])
            duration_s = total_frames / rate
            if song is not None and (audio is None or audio.duration_s != duration_s):
                audio = encode_song_audio(song, start_s=start_s, duration_s=duration_s)
            audio_packets = []
            if audio is not None:
                audio_out = _audio_stream(container, audio)
                audio_packets = audio.packets
                for packet in audio_packets:
                    packet.stream = audio_out
            _mux_interleaved(container, video_out, clips, frame_counts, rate, audio_packets)
        _publish(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return total_frames


def _count_frames(clip: Path) -> int:
    with av.open(str(clip)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def _mux_interleaved(container, video_out, clips, frame_counts, rate, audio_packets) -> None:
    """Copy every clip's packets at its place on the timeline, audio interleaved by time."""
    # Our own time base: the muxer may change the stream's once the header is written.
    time_base = 1 / rate / 512
    audio_index = 0
    last_dts = None
    frames_before = 0
    for clip, count in zip(clips, frame_counts, strict=True):
        with av.open(str(clip)) as source:
            in_stream = source.streams.video[0]
            offset = round(frames_before / rate / time_base)
            for packet in source.demux(in_stream):
                if not packet.size:
                    continue
                pts = round(packet.pts * in_stream.time_base / time_base) + offset
                dts = round(packet.dts * in_stream.time_base / time_base) + offset
                # A clip with fewer frames than the encoder's reorder delay starts its
                # decode timestamps later than its neighbours: keep them increasing.
                if last_dts is not None and dts <= last_dts:
                    dts = last_dts + 1
                dts = min(dts, pts)
                last_dts = dts
                packet.pts, packet.dts = pts, dts
                if packet.duration:  # the last frame's duration decides the file's length
                    packet.duration = round(packet.duration * in_stream.time_base / time_base)
                packet.time_base = time_base
                packet.stream = video_out
                seconds = pts * time_base
                while (
                    audio_index < len(audio_packets)
                    and _seconds(audio_packets[audio_index]) <= seconds
                ):
                    container.mux(audio_packets[audio_index])
                    audio_index += 1
                container.mux(packet)
        frames_before += count
    for packet in audio_packets[audio_index:]:
        container.mux(packet)


def _seconds(packet) -> Fraction:
    return (packet.pts or 0) * packet.time_base
