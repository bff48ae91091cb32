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
PEAKS_SAMPLE_RATE = 11_000  # decoding rate for peaks: a whole number of samples per bucket
THUMB_WIDTH = 160
THUMBS_KEPT = 256


def compute_peaks(song: Path) -> tuple[np.ndarray, float]:
    """(peaks, duration_s) of a song: int8 of shape (n, 2), the min and max of each
    1/PEAKS_PER_SECOND s bucket, scaled so the loudest sample is +-127."""
    from gendisco.audio import decode

    samples = decode(song, sr=PEAKS_SAMPLE_RATE)
    duration_s = samples.size / PEAKS_SAMPLE_RATE
    per_bucket = PEAKS_SAMPLE_RATE // PEAKS_PER_SECOND
    buckets = max(1, int(np.ceil(samples.size / per_bucket)))
    padded = np.zeros(buckets * per_bucket, dtype=np.float32)
    padded[: samples.size] = samples
    frames = padded.reshape(buckets, per_bucket)
    low, high = frames.min(axis=1), frames.max(axis=1)
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
