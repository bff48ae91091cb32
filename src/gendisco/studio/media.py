"""Waveform peaks and clip thumbnails, computed on the server.

The page draws the waveform from peaks made here rather than decoding the song in the
browser: a 10-minute song is ~100 MB of decoded samples for the browser, but its peaks at
`PEAKS_PER_SECOND` are 120 kB, so the waveform appears at once. Audio and video files are
served by Starlette's FileResponse, which answers HTTP Range requests (seeking).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

PEAKS_PER_SECOND = 100  # enough to zoom in to ~100 px per second before the drawing blurs
THUMB_WIDTH = 160
THUMBS_KEPT = 256


def _decode_mono(song: Path) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) at the file's own rate: no resampling, which
    would double the decoding time of a long song for a drawing that does not need it."""
    import av

    from gendisco.errors import AudioError

    chunks: list[np.ndarray] = []
    try:
        with av.open(str(song)) as container:
            if not container.streams.audio:
                raise AudioError(f"{song}: no audio stream in this file")
            stream = container.streams.audio[0]
            rate = stream.rate
            to_mono = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            for frame in container.decode(stream):
                frame.pts = None
                chunks.extend(out.to_ndarray()[0] for out in to_mono.resample(frame))
            chunks.extend(out.to_ndarray()[0] for out in to_mono.resample(None))
    except (av.error.FFmpegError, OSError) as error:
        raise AudioError(f"{song}: cannot read this file as audio ({error})") from None
    if not chunks:
        raise AudioError(f"{song}: the file holds no audio samples")
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def compute_peaks(song: Path) -> tuple[np.ndarray, float]:
    """(peaks, duration_s) of a song: int8 of shape (n, 2), the min and max of each
    1/PEAKS_PER_SECOND s bucket, scaled so the loudest sample is +-127."""
    samples, rate = _decode_mono(song)
    duration_s = samples.size / rate
    buckets = max(1, int(np.ceil(duration_s * PEAKS_PER_SECOND)))
    # bucket edges at exact times, whatever the rate (22050 / 100 is not a whole number)
    edges = np.minimum(
        (np.arange(buckets) * rate / PEAKS_PER_SECOND).astype(np.int64), samples.size - 1
    )
    low = np.minimum.reduceat(samples, edges)
    high = np.maximum.reduceat(samples, edges)
    loudest = float(max(np.abs(low).max(initial=0.0), np.abs(high).max(initial=0.0)))
    scale = 127.0 / loudest if loudest > 0 else 0.0
    peaks = np.stack([low, high], axis=1) * scale
    return np.round(peaks).astype(np.int8), duration_s


class Peaks:
    """The song's peaks, computed once (in the background from server start) and kept."""

    def __init__(self, song: Path):
        self.song = song
        self._lock = threading.Lock()
        self._value: tuple[bytes, float] | None = None

    def get(self) -> tuple[bytes, float]:
        """(int8 min/max pairs as bytes, duration in seconds)."""
        with self._lock:
            if self._value is None:
                peaks, duration = compute_peaks(self.song)
                self._value = (peaks.tobytes(), duration)
            return self._value


class Thumbnails:
    """The first frame of a clip as a small JPEG, kept in memory by file name and mtime."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, clip: Path) -> bytes:
        key = (str(clip), clip.stat().st_mtime_ns)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        data = _first_frame_jpeg(clip)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > THUMBS_KEPT:
                self._cache.popitem(last=False)
        return data


def _first_frame_jpeg(clip: Path) -> bytes:
    import av
    from PIL import Image

    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
        image: Image.Image = frame.to_image()
    height = max(1, round(image.height * THUMB_WIDTH / image.width))
    image = image.resize((THUMB_WIDTH, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
