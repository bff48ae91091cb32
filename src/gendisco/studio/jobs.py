"""Model jobs, one at a time, and the event stream that reports them to the page.

A model job (a render, an image exploration) needs the diffusion pipeline and most of the
machine, so one runs at a time on a worker thread and the others wait in a queue. The
pipeline is loaded by the first job that needs it and kept for the next ones (loading a
real model takes longer than many previews do).

Progress reaches the page as Server-Sent Events through `EventHub`: the worker thread
publishes, each open page holds a queue. A job's progress is published at most
`PROGRESS_EVERY_S` apart (its changes of state and stage, and its last frame, always: a
fast render still shows its frames counting), so a fast model cannot flood a slow browser.

Cancel: a running job's progress callback raises `Cancelled` at its next report; a render
stops there cleanly (the clip in progress is discarded, finished clips stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gendisco.errors import GendiscoError

PROGRESS_EVERY_S = 0.2
SUBSCRIBER_BACKLOG = 256  # events a slow page may fall behind before it misses some
FINISHED_KEPT = 50  # finished jobs remembered for the page

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class Cancelled(Exception):
    """Raised inside a job (from its progress callback) when it was asked to stop."""


# -- the event stream --------------------------------------------------------------------


class EventHub:
    """Fan-out of events to every open page; `publish` may be called from any thread."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> asyncio.Queue:
        subscriber: asyncio.Queue = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
        with self._lock:
            self._subscribers.add(subscriber)
        if self.closed:
            subscriber.put_nowait(None)
        return subscriber

    def unsubscribe(self, subscriber: asyncio.Queue) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        self._send((kind, data))

    def close(self) -> None:
        """End every stream (server shutting down): each subscriber gets None."""
        self.closed = True
        self._send(None)

    def _send(self, event: tuple[str, dict[str, Any]] | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_offer, subscriber, event)


def _offer(subscriber: asyncio.Queue, event: Any) -> None:
    if subscriber.full():  # a page that stopped reading: drop its oldest event
        with contextlib.suppress(asyncio.QueueEmpty):
            subscriber.get_nowait()
    subscriber.put_nowait(event)


# -- jobs -------------------------------------------------------------------------------


@dataclass
class Progress:
    """A job's progress: what the page shows under its bar."""

    stage: str = ""
    message: str = ""
    interval: int | None = None
    frames_done: int = 0
    frames_total: int = 0


@dataclass
class Job:
    id: str
    kind: str  # "render" or "explore"
    title: str  # for the page: "render interval 2", "explore: a city at night"
    run: Callable[[Job], dict[str, Any]] = field(repr=False)
    state: JobState = "queued"
    progress: Progress = field(default_factory=Progress)
    error: str | None = None
    result: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    _render_started: float | None = field(default=None, repr=False)
    _frames_at_start: int = field(default=0, repr=False)
    _published: float = field(default=0.0, repr=False)
    on_update: Callable[[Job, bool], None] | None = field(default=None, repr=False)

    def report(self, progress: Progress) -> None:
        """Called by the job's body; raises Cancelled when a stop was asked for."""
        if self.cancel_requested.is_set():
            raise Cancelled
        if progress.stage == "render" and self._render_started is None:
            self._render_started = time.perf_counter()
            self._frames_at_start = progress.frames_done
        # a new stage and the last frame are always shown, whatever the pace
        milestone = progress.stage != self.progress.stage or (
            progress.frames_total > 0 and progress.frames_done == progress.frames_total
        )
        self.progress = progress
        if self.on_update is not None:
            self.on_update(self, milestone)

    def check_cancelled(self) -> None:
        if self.cancel_requested.is_set():
            raise Cancelled

    @property
    def frames_per_second(self) -> float:
        if self._render_started is None:
            return 0.0
        elapsed = time.perf_counter() - self._render_started
        done = self.progress.frames_done - self._frames_at_start
        return done / elapsed if elapsed > 0 and done > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.frames_per_second
        left = self.progress.frames_total - self.progress.frames_done
        return left / rate if rate > 0 and self.state == "running" else None

    def public(self) -> dict[str, Any]:
        """What the page sees of the job."""
        p = self.progress
        eta = self.eta_s
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "stage": p.stage,
            "message": p.message,
            "interval": p.interval,
            "frames_done": p.frames_done,
            "frames_total": p.frames_total,
            "frames_per_second": round(self.frames_per_second, 2),
            "eta_s": round(eta, 1) if eta is not None else None,
            "error": self.error,
            "result": self.result,
        }


class JobQueue:
    """Runs model jobs one at a time, in submission order, on one worker thread."""

    def __init__(self, hub: EventHub, on_finished: Callable[[Job], None] | None = None):
        self._hub = hub
        self._on_finished = on_finished
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="gendisco-studio-jobs")
        self._worker.start()

    def submit(self, kind: str, title: str, run: Callable[[Job], dict[str, Any]]) -> Job:
        with self._lock:
            job = Job(id=str(next(self._ids)), kind=kind, title=title, run=run)
            job.on_update = self._updated
            self._jobs[job.id] = job
            self._forget_old()
        self._queue.put(job)
        self._publish(job)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def running(self) -> Job | None:
        return next((job for job in self.list() if job.state == "running"), None)

    def cancel(self, job: Job) -> Job:
        """A queued job is dropped at once; a running one stops at its next report."""
        job.cancel_requested.set()
        if job.state == "queued":
            job.state = "cancelled"
            job.finished = time.time()
            self._publish(job)
        return job

    def close(self, timeout_s: float = 60.0) -> bool:
        """Cancel everything and wait for the worker; False if it is still busy after that."""
        for job in self.list():
            if job.state in ("queued", "running"):
                self.cancel(job)
        self._queue.put(None)
        self._worker.join(timeout_s)
        return not self._worker.is_alive()

    # -- the worker ------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            if job.state != "queued":
                continue
            job.state = "running"
            job.started = time.time()
            self._publish(job)
            try:
                job.result = job.run(job)
                job.state = "done"
            except Cancelled:
                job.state = "cancelled"
            except KeyboardInterrupt:  # the render's own stop request, raised from inside
                job.state = "cancelled"
            except GendiscoError as error:
                job.state = "failed"
                job.error = " ".join(error.lines())
            except MemoryError:
                job.state = "failed"
                job.error = "out of memory: try a smaller size or fewer seeds"
            except Exception as error:  # one line in the page; the server keeps running
                job.state = "failed"
                job.error = f"unexpected {type(error).__name__}: {error}"
            job.finished = time.time()
            self._publish(job)
            if self._on_finished is not None:
                with contextlib.suppress(Exception):
                    self._on_finished(job)

    def _updated(self, job: Job, force: bool) -> None:
        now = time.monotonic()
        if force or now - job._published >= PROGRESS_EVERY_S:
            self._publish(job)

    def _publish(self, job: Job) -> None:
        job._published = time.monotonic()
        self._hub.publish("job", job.public())

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in ("done", "failed", "cancelled")]
        for job in finished[:-FINISHED_KEPT]:
            del self._jobs[job.id]


class PipelineCache:
    """The loaded diffusion pipeline, kept between jobs; loaded again only when the model,
    VAE, scheduler, speed settings or device change. Used from the job worker thread only."""

    def __init__(self, device: str | None = None):
        self.device = device
        self._key: tuple | None = None
        self._pipeline: Any = None

    def get(self, model: str, *, vae: str, scheduler: str, speed: Any = None) -> Any:
        """`speed`: the project's `SpeedSettings` (None: the defaults), as `render` uses them,
        so a clip made here is the clip the CLI would make (feature reuse changes pixels)."""
        key = (model, vae, scheduler, speed, self.device)
        if self._key != key:
            from gendisco.models import load_pipeline

            self._pipeline = None  # free the old model before loading the new one
            self._key = None
            self._pipeline = load_pipeline(
                model, device=self.device, vae=vae, scheduler=scheduler, speed=speed
            )
            self._key = key
        return self._pipeline

    @property
    def loaded(self) -> str | None:
        return self._key[0] if self._key else None
