"""The studio's state for one project: its file, song analysis, peaks, jobs and watchers.

One `Workspace` lives as long as the server. It keeps the last project that validated (so
the song and output folder stay known while the file is being fixed in another editor),
watches the file and the output folder's lock, and tells every open page through the
event hub when either changes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gendisco.errors import GendiscoError, UserError
from gendisco.project import Project
from gendisco.studio.edits import EditOp, ProjectFile, Snapshot
from gendisco.studio.jobs import EventHub, Job, JobQueue, PipelineCache
from gendisco.studio.media import Peaks, Thumbnails
from gendisco.studio.tasks import ExploreStore, explore_job, render_job

WATCH_EVERY_S = 0.5  # how often the project file and the output lock are looked at
# A song longer than this is analysed in a process of its own: its seconds of mostly Python
# work would otherwise hold the interpreter while the page loads its waveform.
ANALYSE_APART_S = 60.0
MAX_EXPLORE_SEEDS = 32


class Workspace:
    def __init__(self, project_path: Path, *, model: str | None = None, device: str | None = None):
        self.file = ProjectFile(project_path)
        snapshot = self.file.read()
        if snapshot.project is None:
            from gendisco.errors import ProjectError

            raise ProjectError(snapshot.problems, str(project_path))
        self.project: Project = snapshot.project
        self.model = model
        self.hub = EventHub()
        self.pipelines = PipelineCache(device)
        self.jobs = JobQueue(self.hub, on_finished=self._job_finished)
        self.explored = ExploreStore()
        self.thumbnails = Thumbnails()
        self._peaks = Peaks(self.project.song)
        self._analysis: tuple[Path, Any] | None = None
        self._analysis_lock = threading.Lock()
        self._stop = threading.Event()
        self._lock_holder: str | None = None
        self._threads: list[threading.Thread] = []
        self._analysis_process: Any = None  # a long song's analysis, running

    # -- background work ---------------------------------------------------------------

    def start(self) -> None:
        """Warm the peaks and the analysis, and start watching the file and the lock."""
        self._threads = [
            threading.Thread(target=self._warm, name="gendisco-studio-warm", daemon=True),
            threading.Thread(target=self._watch, name="gendisco-studio-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # errors show when the page asks
            self.peaks()
            self.analysis()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_EVERY_S):
            with contextlib.suppress(Exception):  # a file mid-save: look again next time
                if self.file.changed():
                    self._publish_project(self.snapshot(), source="disk")
                holder = self.foreign_lock_holder()
                if holder != self._lock_holder:
                    self._lock_holder = holder
                    self.hub.publish("lock", {"holder": holder})

    def close(self, timeout_s: float = 60.0) -> bool:
        """Stop the watchers and the event streams, cancel jobs; True when all stopped."""
        self._stop.set()
        self.hub.close()
        process = self._analysis_process
        if process is not None:
            process.terminate()
        stopped = self.jobs.close(timeout_s)
        # wait for the warm-up and the watcher: the process must not exit while a thread
        # is inside native code (a short song's analysis runs here, and a thread pool torn
        # down under it aborts the process instead of letting it exit with its code)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return stopped and not any(thread.is_alive() for thread in self._threads)

    # -- the project -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        snapshot = self.file.read()
        if snapshot.project is not None:
            if snapshot.project.song != self.project.song:
                self._peaks = Peaks(snapshot.project.song)
            self.project = snapshot.project
        return snapshot

    def edit(self, ops: list[EditOp], version: str) -> Snapshot:
        snapshot = self.file.edit(ops, version)
        self._publish_project(self.snapshot(), source="studio")
        return snapshot

    def _publish_project(self, snapshot: Snapshot, *, source: str) -> None:
        """`source`: "studio" for an edit made through a page, "disk" for another program's."""
        self.hub.publish(
            "project",
            {"version": snapshot.version, "valid": not snapshot.problems, "source": source},
        )

    def analysis(self) -> Any:
        """The song's analysis (cached by the library per file content; here per path)."""
        song = self.project.song
        with self._analysis_lock:
            if self._analysis is None or self._analysis[0] != song:
                self._analysis = (song, self._analyze(song))
            return self._analysis[1]

    def _analyze(self, song: Path) -> Any:
        """`gendisco.audio.analyze(song)`; for a long song in a process of its own, in a
        session of its own (a Ctrl-C in the terminal reaches only the server), which
        `close` stops, so a server stopped right after opening a long song exits at once."""
        from gendisco.audio import analyze, probe_duration

        try:
            long_song = probe_duration(song) > ANALYSE_APART_S
        except UserError:
            long_song = False  # analyze says what is wrong with the file
        if not long_song:
            return analyze(song)
        process = subprocess.Popen(
            [sys.executable, "-m", "gendisco.studio.analysis_child", str(song)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        self._analysis_process = process
        try:
            out, err = process.communicate()
        finally:
            self._analysis_process = None
        if self._stop.is_set():
            raise GendiscoError("the studio is stopping")
        if process.returncode != 0 or not out:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
            raise GendiscoError(f"the analysis of {song.name} failed: {last[0]}")
        ok, value = pickle.loads(out)  # from our own child process
        if not ok:
            raise value
        return value

    def peaks(self) -> tuple[bytes, float]:
        return self._peaks.get()

    def foreign_lock_holder(self) -> str | None:
        """Who holds the output folder's lock, when it is another process."""
        from gendisco.lock import lock_holder

        holder = lock_holder(self.project.output)
        if holder is None or holder.pid == os.getpid():
            return None
        return holder.describe()

    def status(self) -> dict[str, Any]:
        snapshot = self.snapshot()
        running = self.jobs.running()
        return {
            "version": snapshot.version,
            "problems": snapshot.problems,
            "lock": self.foreign_lock_holder(),
            "model": self.model or self.project.model,
            "model_loaded": self.pipelines.loaded,
            "running": running.public() if running else None,
            "jobs": [job.public() for job in self.jobs.list()],
        }

    # -- model jobs --------------------------------------------------------------------

    def submit_render(self, intervals: list[int] | None) -> Job:
        count = len(self.project.intervals)
        for index in intervals or []:
            if not 0 <= index < count:
                raise UserError(
                    f"interval {index} does not exist: the project has {count} interval(s), "
                    f"numbered 0 to {count - 1}"
                )
        if intervals:
            title = "render interval" + ("s " if len(intervals) > 1 else " ")
            title += ", ".join(str(i) for i in intervals)
        else:
            title = "render all"
        path, pipelines, model = self.file.path, self.pipelines, self.model
        chosen = sorted(set(intervals)) if intervals else None
        return self.jobs.submit(
            "render",
            title,
            lambda job: render_job(
                job, project_path=path, pipelines=pipelines, model=model, intervals=chosen
            ),
        )

    def submit_explore(self, prompt: str, count: int, first_seed: int) -> Job:
        prompt = " ".join(prompt.split())
        if not prompt:
            raise UserError("the prompt is empty")
        if not 1 <= count <= MAX_EXPLORE_SEEDS:
            raise UserError(f"seeds must be between 1 and {MAX_EXPLORE_SEEDS}, got {count}")
        seeds = [(first_seed + i) % 2**32 for i in range(count)]
        path, pipelines, model, store = self.file.path, self.pipelines, self.model, self.explored
        return self.jobs.submit(
            "explore",
            f"explore: {prompt}",
            lambda job: explore_job(
                job,
                project_path=path,
                pipelines=pipelines,
                store=store,
                model=model,
                prompt=prompt,
                seeds=seeds,
            ),
        )

    def _job_finished(self, job: Job) -> None:
        if job.kind == "render":
            self.hub.publish("tracks", {"job": job.id})
