"""Render a project's clips on Ray: every GPU of a machine, or of a cluster.

Imported only for `gendisco render --ray`; Ray is an optional extra (`gendisco[ray]`).

The work units are the render plan's clips (chunks of at most `CHUNK_FRAMES` frames of one
interval), each a Ray task. A clip's pixels depend only on the project and the schedule, so
it renders the same wherever it runs. Each worker process loads the pipeline once and keeps
it for every later task. A task encodes its clip into a temporary file on the worker and
returns the file's bytes through Ray's object store; the driver writes them under the
clip's content-hash name (atomically), so a cluster needs no shared storage, and the cache
and resume work exactly as on one machine. Stitching and muxing stay on the driver.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gendisco.errors import GendiscoError, ModelError, RenderError, UserError
from gendisco.project import Project
from gendisco.rendering import PipelineSpec, render_clip
from gendisco.video import write_file_atomically

LOCAL = "local"
# Ray retries a task whose worker died (killed, lost node) and one that failed to load its
# model this many times before the render stops; any other exception in a task is not
# retried (it would fail the same way again).
MAX_RETRIES = 2
INSTALL_HINT = "pip install 'gendisco[ray]'"


def import_ray() -> Any:
    """Ray, or one clear line on how to get it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"--ray needs Ray, an optional extra: {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class ClipResult:
    data: bytes  # the encoded clip
    worker: str  # pid@host
    seconds: float
    pipeline: dict[str, Any]  # describe_pipeline() of the worker's pipeline


# ------------------------------------------------------------------------------- worker side

_PIPELINE: dict[PipelineSpec, Any] = {}  # one per worker process, kept between tasks


def _pipeline(spec: PipelineSpec) -> Any:
    if spec not in _PIPELINE:
        _PIPELINE.clear()  # a new spec replaces the old one: one model in memory per worker
        _PIPELINE[spec] = spec.load()
    return _PIPELINE[spec]


def _use_assigned_cpus() -> None:
    """On CPU workers, torch uses the cores Ray gave this task, not every core of the node."""
    import ray
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if cpus:
        torch.set_num_threads(max(1, int(cpus)))


def render_clip_task(
    clip, project: Project, spec: PipelineSpec, batch_size: int | None, progress
) -> ClipResult:
    """Runs on a worker: render one clip and return its encoded bytes."""
    import ray

    from gendisco.models import describe_pipeline

    started = time.perf_counter()
    # counted before anything can fail, so that a failure can say how often it was tried
    ray.get(progress.begin.remote(clip.key))
    _use_assigned_cpus()
    pipe = _pipeline(spec)
    with tempfile.TemporaryDirectory(prefix="gendisco-clip-") as folder:
        local = replace(clip, path=Path(folder) / clip.path.name)
        render_clip(
            pipe,
            local,
            project,
            batch_size=batch_size,
            frames_dir=None,
            on_frames=lambda count: progress.add.remote(clip.key, count),
        )
        data = local.path.read_bytes()
    return ClipResult(
        data=data,
        worker=f"{os.getpid()}@{socket.gethostname()}",
        seconds=time.perf_counter() - started,
        pipeline=describe_pipeline(pipe),
    )


class FrameCounter:
    """A Ray actor: frames done per clip, reported by the workers batch by batch, and how
    many times each clip was started (Ray retries a clip whose worker died)."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}
        self.started: dict[str, int] = {}

    def begin(self, key: str) -> None:
        """A try of the clip starts: its frames count from zero again."""
        self.done[key] = 0
        self.started[key] = self.started.get(key, 0) + 1

    def tries(self, key: str) -> int:
        return self.started.get(key, 0)

    def add(self, key: str, count: int) -> None:
        self.done[key] = self.done.get(key, 0) + count

    def total(self) -> int:
        return sum(self.done.values())


# ------------------------------------------------------------------------------- driver side


def connect(ray: Any, address: str) -> bool:
    """Start or join Ray; True when this process started it (and so shuts it down)."""
    if ray.is_initialized():
        return False
    quiet = dict(log_to_driver=False, logging_level="ERROR")
    # ray.init makes SIGTERM exit the process at once; the caller's handler (the CLI stops
    # the render as on Ctrl-C: partial files removed, clips kept) stays in charge
    main_thread = threading.current_thread() is threading.main_thread()
    on_sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
    try:
        with warnings.catch_warnings():  # Ray Client warns before it raises: one line is enough
            warnings.simplefilter("ignore")
            if address == LOCAL:
                ray.init(include_dashboard=False, **quiet)
            else:
                ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot reach the Ray cluster at {address!r}: {reason}") from None
    finally:
        if on_sigterm is not None:
            signal.signal(signal.SIGTERM, on_sigterm)
    return address == LOCAL


def task_resources(ray: Any, device: str | None) -> tuple[dict[str, float], str | None]:
    """One GPU per task where the cluster has GPUs, else one CPU; and the device to load on.

    Ray gives each GPU task its own GPU (as the only one the worker sees), so a GPU index in
    `device` cannot apply to the workers: every task loads on "cuda".
    """
    gpus = ray.cluster_resources().get("GPU", 0)
    wants_gpu = device is None or device.startswith("cuda")
    if gpus >= 1 and wants_gpu:
        return {"num_gpus": 1, "num_cpus": 1}, "cuda"
    if device is not None and device.startswith("cuda"):
        raise UserError(f"--device {device}: the Ray cluster has no GPUs")
    return {"num_cpus": 1}, device or "cpu"


def failure_line(clip: Any, reason: str, tries: int) -> str:
    """What the user reads when a clip failed on Ray; the tries are said when there were
    more than one (a worker that died, a model that failed to load: Ray retried them)."""
    last = clip.first_frame + clip.frame_count - 1
    how = f"after {tries} tries" if tries > 1 else ""
    return (
        f"interval {clip.interval}, frames {clip.first_frame}-{last}: failed on Ray"
        f"{' ' + how if how else ''}: {reason}; finished clips are kept, run the render "
        "again to retry"
    )


def _tries(ray: Any, counter: Any, key: str) -> int:
    """How many times the clip was started on a worker (0 when that cannot be told)."""
    try:
        return int(ray.get(counter.tries.remote(key), timeout=10))
    except Exception:  # the counter's own worker is gone: say nothing about tries
        return 0


def _failure_reason(ray: Any, error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    if isinstance(cause, GendiscoError):
        return str(cause)
    if isinstance(error, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        return "its worker process died"
    if isinstance(error, ray.exceptions.OutOfMemoryError):
        return "its worker ran out of memory"
    if cause is not None:
        text = str(cause).strip()
        return f"{type(cause).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def render_on_ray(
    clips: Sequence,
    project: Project,
    spec: PipelineSpec,
    *,
    address: str,
    batch_size: int | None,
    on_progress: Callable[[int, str], None],
    on_clip_done: Callable[[Any, ClipResult], None],
) -> dict[str, Any]:
    """Render `clips` as Ray tasks and write each finished one to its path as it arrives.

    `on_progress(frames_done, message)` is called a few times a second; `on_clip_done(clip,
    result)` once per clip written. Returns a description of where the work ran.
    """
    ray = import_ray()
    started_here = connect(ray, address)
    pending: dict[Any, Any] = {}
    try:
        resources, device = task_resources(ray, spec.device)
        spec = replace(spec, device=device)
        counter = ray.remote(num_cpus=0)(FrameCounter).remote()
        task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=[ModelError], **resources)(
            render_clip_task
        )
        project_ref = ray.put(project)
        for clip in clips:
            pending[task.remote(clip, project_ref, spec, batch_size, counter)] = clip
        workers = int(ray.cluster_resources().get("GPU" if "num_gpus" in resources else "CPU", 1))
        message = f"ray, {workers} {device.split(':')[0]} workers"
        pipeline: dict[str, Any] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
            on_progress(ray.get(counter.total.remote()), message)
            for ref in ready:
                clip = pending.pop(ref)
                try:
                    result: ClipResult = ray.get(ref)
                except ray.exceptions.RayError as error:
                    reason = _failure_reason(ray, error)
                    tries = _tries(ray, counter, clip.key)
                    raise RenderError(failure_line(clip, reason, tries)) from None
                write_file_atomically(clip.path, result.data)
                pipeline = result.pipeline
                on_clip_done(clip, result)
        on_progress(ray.get(counter.total.remote()), message)
        return {**pipeline, "executor": "ray", "ray_address": address, "workers": workers}
    finally:
        # A failure or Ctrl-C: stop the work still queued or running. A cluster started
        # here goes down whole with its workers; cancelling its tasks first only races their
        # replies, and Ray's core can abort the process on that race ("Tried to complete
        # task that was not pending"), losing the Ctrl-C summary. On a shared cluster the
        # tasks themselves are cancelled.
        if started_here:
            ray.shutdown()
        else:
            for ref in pending:
                ray.cancel(ref, force=True)
