"""Decoding: any file FFmpeg reads to float samples, and a cheap duration probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gendisco.audio.spectrum import SR
from gendisco.errors import AudioError


def check_song_file(path: Path) -> None:
    """Raise AudioError, in one line, unless `path` is a file (a folder is named as one)."""
    if not path.is_file():
        raise AudioError(
            f"{path} is a folder, not an audio file" if path.is_dir() else f"song not found: {path}"
        )


def decode(path: Path | str, *, sr: int = SR, mono: bool = True) -> np.ndarray:
    """Decode any audio file FFmpeg reads to float32 samples at `sr`.

    Returns shape (n,) when `mono`, else (channels, n). Raises AudioError with one line for
    a missing, corrupt or non-audio file.
    """
    import av

    path = Path(path)
    check_song_file(path)
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream in this file")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", rate=sr)
            for frame in container.decode(stream):
                frame.pts = None  # let the resampler count samples; some demuxers skip pts
                chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise AudioError(f"{path}: cannot read this file as audio ({error})") from None
    if not chunks:
        raise AudioError(f"{path}: the file holds no audio samples")
    y = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return y.mean(axis=0) if mono else y


def probe_duration(path: Path) -> float:
    """Duration of an audio file in seconds, read from the container header (cheap)."""
    import av

    path = Path(path)
    check_song_file(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: no audio stream in this file")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError) as error:
        raise AudioError(f"{path}: cannot read this file as audio ({error})") from None
    raise AudioError(f"{path}: cannot tell the duration of this file")
