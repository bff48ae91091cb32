"""Encode clips while the model makes the next frames: several H.264 encoders at once.

Clips are independent, so while one clip's encoder is busy the generator can move on to the
next clip and hand it to another encoder. The generator always feeds the oldest clip whose
encoder has room; it opens another clip (and another encoder) only when every open encoder's
queue is full and the measured rates say the encoders fall behind. A generator slower than
one encoder therefore renders clip after clip, as with a single encoder; a faster one spreads
its frames over as many encoders as it needs, up to `max_encoders`.

Memory stays bounded: each encoder holds at most `ENCODER_QUEUE_BATCHES` batches waiting, and
at most `encoders` clips are in flight. Every encoder gets the same libx264 thread count
(`encoder_threads`, a share of the cores that does not depend on how many encoders run), so a
clip is encoded the same way whatever `--encoders` says. (libx264 may still encode a few
macroblocks differently from one run to the next when it runs beside other threads, with one
encoder as with several.)

Stopping (Ctrl-C, a failed batch): clips still being generated are abandoned (their
temporary files deleted); clips whose frames were all made are finished and kept.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gendisco.errors import UserError
from gendisco.video import ClipWriter, write_pngs

# Batches waiting for each encoder; the generator moves to another clip when it is full.
ENCODER_QUEUE_BATCHES = 2
# Each encoder runs libx264 on a quarter of the cores, at least one thread and at most
# ENCODER_MAX_THREADS (libx264's frame threads scale well up to a few per clip; beyond, more
# encoders use the cores better). The share is fixed per machine, not per run: libx264's
# output depends on its thread count, and a clip must not depend on --encoders.
CORE_SHARES = 4
ENCODER_MAX_THREADS = 4
# The longest the generator waits between looks when every encoder is busy (it is woken as
# soon as an encoder takes a batch or finishes).
WAIT_POLL_S = 0.05


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask, where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def encoder_threads(cores: int) -> int:
    """libx264 threads of every encoder on a machine with `cores` cores."""
    return max(1, min(ENCODER_MAX_THREADS, cores // CORE_SHARES))


def max_encoders(cores: int) -> int:
    """How many encoders may run at once when the user does not say: the cores' shares."""
    return max(1, cores // encoder_threads(cores))


def check_encoders(encoders: int | None) -> None:
    if encoders is not None and encoders < 1:
        raise UserError(f"--encoders {encoders}: at least one encoder is needed")


_DONE = object()
_ABORT = object()


class _Aborted(Exception):
    pass


class ClipEncoder:
    """Encodes one clip in its own thread, fed through a bounded queue.

    PyAV releases the GIL while converting and encoding, as torch does while computing, so
    encoders and the model run at the same time. With `frames_dir`, every frame is also
    written as a lossless PNG named by its global frame index, atomically, and
    `on_pngs_written` is called (in the encoder's thread) once the last one is, before the
    clip itself is on disk: a render killed in between finds the clip missing, not its PNGs.
    """

    def __init__(
        self,
        writer: ClipWriter,
        *,
        frames_dir: Path | None,
        first_frame: int,
        on_change: Callable[[], None] | None = None,
        on_pngs_written: Callable[[], None] | None = None,
    ):
        self._writer = writer
        self._frames_dir = frames_dir
        self._on_pngs_written = on_pngs_written
        self._next_frame = first_frame
        self._on_change = on_change or (lambda: None)
        self._queue: queue.Queue = queue.Queue(maxsize=ENCODER_QUEUE_BATCHES)
        self._error: BaseException | None = None
        self.frames_encoded = 0
        self.busy_seconds = 0.0  # time spent encoding (not waiting for frames)
        self._thread = threading.Thread(target=self._run, name="gendisco-encoder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._writer as clip:
                while True:
                    batch = self._queue.get()
                    self._on_change()  # room in the queue
                    if batch is _DONE:
                        if self._frames_dir is not None and self._on_pngs_written is not None:
                            self._on_pngs_written()
                        break
                    if batch is _ABORT:
                        raise _Aborted
                    started = time.perf_counter()
                    clip.write(batch)
                    if self._frames_dir is not None:
                        self._save_pngs(batch)
                    self.busy_seconds += time.perf_counter() - started
                    self.frames_encoded += len(batch)
        except _Aborted:
            pass
        except BaseException as error:  # handed to the generator's thread by check()/wait()
            self._error = error
        finally:
            self._on_change()  # finished

    def _save_pngs(self, batch: np.ndarray) -> None:
        write_pngs(self._frames_dir, self._next_frame, batch)
        self._next_frame += len(batch)

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    @property
    def has_room(self) -> bool:
        return not self._queue.full()

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def put(self, batch: np.ndarray) -> None:
        """Queue a batch, waiting while the queue is full."""
        while True:
            self.check()
            try:
                self._queue.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """No more frames: the clip is published once the queued ones are encoded."""
        self.put(_DONE)

    def wait(self) -> None:
        """Wait until the clip is written; raises the encoder's error, if any."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.1)  # a short join keeps Ctrl-C responsive
        self.check()

    def finish(self) -> None:
        self.close()
        self.wait()

    def abort(self) -> None:
        """Stop without publishing the clip (its temporary file is deleted)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(_ABORT)
        self._thread.join(timeout=10)


@dataclass
class ClipJob:
    """One clip to render: where it goes and, once opened, its frames in batches."""

    name: Any  # handed back to the callbacks (the render's ClipPlan)
    writer: Callable[[], ClipWriter]
    frames: Callable[[], Iterator[np.ndarray]]  # called when the clip is opened
    first_frame: int


@dataclass
class _Open:
    job: ClipJob
    encoder: ClipEncoder
    batches: Iterator[np.ndarray] | None  # None once every frame is queued


class EncoderPool:
    """Runs clip jobs: the generator in the calling thread, up to `encoders` encoders.

    `encoders` None chooses from the cores (`max_encoders`) and the measured rates.
    Callbacks run in the calling thread: `on_frames(job, count, seconds)` after each batch
    (`seconds` spent making it), `on_clip_done(job)` once a clip is on disk; with
    `frames_dir`, `on_pngs_written(job)` runs in the job's encoder thread (`ClipEncoder`).
    """

    def __init__(
        self,
        *,
        encoders: int | None = None,
        frames_dir: Path | None = None,
        on_frames: Callable[[ClipJob, int, float], None] | None = None,
        on_clip_done: Callable[[ClipJob], None] | None = None,
        on_pngs_written: Callable[[ClipJob], None] | None = None,
        cores: int | None = None,
    ):
        check_encoders(encoders)
        self.explicit = encoders is not None
        self.limit = encoders if encoders is not None else max_encoders(cores or cpu_cores())
        self.frames_dir = frames_dir
        self.on_frames = on_frames or (lambda job, count, seconds: None)
        self.on_clip_done = on_clip_done or (lambda job: None)
        self.on_pngs_written = on_pngs_written or (lambda job: None)
        self._changed = threading.Condition()
        self._changes = 0  # counts encoder events, so none is missed between look and wait
        self._generating: list[_Open] = []  # oldest first
        self._finishing: list[_Open] = []  # every frame queued, the encoder still busy
        self._generated_frames = 0
        self._generator_seconds = 0.0
        self._retired_frames = 0
        self._retired_seconds = 0.0
        self.most_at_once = 0  # the most encoders that ran at the same time

    @property
    def frames_encoded(self) -> int:
        """Frames encoded so far, by every encoder."""
        running = self._generating + self._finishing
        return self._retired_frames + sum(clip.encoder.frames_encoded for clip in running)

    # -- choosing --------------------------------------------------------------------------

    def _encoders_busy(self) -> int:
        return len(self._generating) + len(self._finishing)

    def _encoders_wanted(self) -> int:
        """How many encoders keep up with the generator, from the rates measured so far."""
        if self.explicit:
            return self.limit
        running = self._generating + self._finishing
        frames = self.frames_encoded
        seconds = self._retired_seconds + sum(clip.encoder.busy_seconds for clip in running)
        if not frames or not self._generated_frames or seconds <= 0:
            return self.limit  # nothing measured yet: a full queue is the only evidence
        encode_rate = frames / seconds  # of one encoder
        generate_rate = self._generated_frames / max(self._generator_seconds, 1e-9)
        return min(self.limit, max(1, math.ceil(generate_rate / encode_rate)))

    def _next_to_feed(self, pending: Iterator[ClipJob]) -> _Open | None:
        """The oldest open clip whose encoder has room, or a newly opened clip."""
        for clip in self._generating:
            if clip.encoder.has_room:
                return clip
        if self._encoders_busy() >= self.limit:
            return None
        if self._generating and self._encoders_busy() >= self._encoders_wanted():
            return None
        job = next(pending, None)
        if job is None:
            return None
        encoder = ClipEncoder(
            job.writer(),
            frames_dir=self.frames_dir,
            first_frame=job.first_frame,
            on_change=self._signal,
            on_pngs_written=lambda: self.on_pngs_written(job),
        )
        opened = _Open(job, encoder, None)
        self._generating.append(opened)  # before making frames: an error aborts it
        opened.batches = job.frames()
        self.most_at_once = max(self.most_at_once, self._encoders_busy())
        return opened

    # -- running ---------------------------------------------------------------------------

    def _signal(self) -> None:
        """An encoder took a batch or finished (called from its thread)."""
        with self._changed:
            self._changes += 1
            self._changed.notify_all()

    def _reap(self) -> None:
        """Publish the clips whose encoders are done (oldest first)."""
        for clip in list(self._finishing):
            if clip.encoder.finished:
                clip.encoder.wait()  # raises its error
                self._finishing.remove(clip)
                self._retired_frames += clip.encoder.frames_encoded
                self._retired_seconds += clip.encoder.busy_seconds
                self.on_clip_done(clip.job)

    def _feed(self, clip: _Open) -> None:
        started = time.perf_counter()
        try:
            batch = next(clip.batches)
        except StopIteration:
            clip.batches = None
            self._generating.remove(clip)
            self._finishing.append(clip)
            clip.encoder.close()
            return
        seconds = time.perf_counter() - started
        self._generated_frames += len(batch)
        self._generator_seconds += seconds
        clip.encoder.put(batch)
        self.on_frames(clip.job, len(batch), seconds)

    def run(self, jobs: Iterable[ClipJob]) -> None:
        """Render every job; returns once every clip is on disk."""
        pending = iter(jobs)
        try:
            while True:
                seen = self._changes
                self._reap()
                for clip in self._generating:
                    clip.encoder.check()
                clip = self._next_to_feed(pending)
                if clip is not None:
                    self._feed(clip)
                elif not self._generating and not self._finishing:
                    break
                else:
                    with self._changed:
                        if self._changes == seen:
                            self._changed.wait(WAIT_POLL_S)
        except BaseException:
            self._stop()
            raise

    def _stop(self) -> None:
        """Abandon the clips still being generated; finish those whose frames are all made.

        A second Ctrl-C (or an encoder's error) while finishing abandons the rest too.
        """
        for clip in self._generating:
            clip.encoder.abort()
        self._generating.clear()
        try:
            for clip in list(self._finishing):
                clip.encoder.wait()
                self._finishing.remove(clip)
                self.on_clip_done(clip.job)
        except BaseException:
            for clip in self._finishing:
                clip.encoder.abort()
            self._finishing.clear()
