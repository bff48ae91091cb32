"""One writer at a time per output folder.

A render (or anything else that writes clips) holds `OUTPUT/.gendisco.lock` for its whole
run. Without it, two renders into one folder destroy each other's work: each starts by
deleting the half-written files it finds, and one of those is the other's clip in progress.

The lock is an advisory `flock` on that file. The operating system drops it when its holder
exits in any way (Ctrl-C, kill -9, a crash), so a dead holder never blocks anyone and there is
nothing to clean up by hand. The file also records who holds it (pid, host, command, since),
so a second render can name the holder in its one-line refusal. Where `flock` is missing
(Windows, some network filesystems), the file's existence is the lock instead, and a holder
whose process is gone from this host is taken over.

While a process holds the lock, no other gendisco process writes into the folder, so every
partial file found there is provably abandoned and safe to delete.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from gendisco.errors import UserError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".gendisco.lock"
WAIT_POLL_S = 0.5  # how often a waiting render retries


@dataclass(frozen=True)
class LockHolder:
    """Who holds an output folder's lock."""

    pid: int
    host: str
    command: str
    since: str  # ISO 8601, local time

    def describe(self) -> str:
        since = self.since
        with contextlib.suppress(ValueError):
            since = datetime.fromisoformat(self.since).strftime("%Y-%m-%d %H:%M:%S")
        where = "this machine" if self.host == socket.gethostname() else self.host
        return f"pid {self.pid} on {where} since {since}: {self.command}"


class OutputBusy(UserError):
    """Another process is writing into the output folder."""

    def __init__(self, output: Path, holder: LockHolder | None):
        self.output = output
        self.holder = holder
        who = holder.describe() if holder else "a process that did not say who it is"
        super().__init__(
            f"{output} is in use by another render ({who}); wait for it to finish "
            "(or pass --wait), or render into another output folder"
        )


def _command_line() -> str:
    """What the holder runs, as its user typed it (`gendisco render x.yaml`)."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("__main__.py", "-c", "-m"):
        program = "gendisco" if program == "__main__.py" else "python"
    return " ".join([program, *sys.argv[1:]])


def _current_holder() -> LockHolder:
    return LockHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        command=_command_line(),
        since=datetime.now().isoformat(timespec="seconds"),
    )


def _parse_holder(text: str) -> LockHolder | None:
    try:
        data = json.loads(text)
        return LockHolder(
            pid=int(data["pid"]),
            host=str(data["host"]),
            command=str(data["command"]),
            since=str(data["since"]),
        )
    except (ValueError, KeyError, TypeError):
        return None  # empty (being written) or not ours


def _read_holder_file(path: Path) -> LockHolder | None:
    try:
        return _parse_holder(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True  # cannot tell: assume it lives
    return True


class OutputLock:
    """Context manager: hold `output`'s lock, or raise OutputBusy naming the holder.

    With `wait=True` it waits for the holder to finish instead, calling `on_wait(holder)`
    once when it starts waiting (for a status line).
    """

    def __init__(
        self,
        output: Path,
        *,
        wait: bool = False,
        on_wait: Callable[[LockHolder | None], None] | None = None,
    ):
        self.output = Path(output)
        self.path = self.output / LOCK_NAME
        self.wait = wait
        self.on_wait = on_wait
        self._fd: int | None = None
        self._exclusive_file = False

    # -- acquiring ---------------------------------------------------------------------

    def acquire(self) -> OutputLock:
        self.output.mkdir(parents=True, exist_ok=True)
        announced = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                return self
            if not self.wait:
                raise OutputBusy(self.output, holder if holder is not _UNKNOWN else None)
            if not announced and self.on_wait is not None:
                self.on_wait(holder if holder is not _UNKNOWN else None)
            announced = True
            time.sleep(WAIT_POLL_S)

    def _try_acquire(self) -> LockHolder | object | None:
        """None when acquired, else the holder (or _UNKNOWN)."""
        if fcntl is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    return _read_holder_file(self.path) or _UNKNOWN
                if error.errno not in (errno.ENOLCK, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                # this filesystem has no flock: fall through to the exclusive file
            else:
                self._fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(asdict(_current_holder())).encode())
                return None
        return self._try_exclusive_file()

    def _try_exclusive_file(self) -> LockHolder | object | None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _read_holder_file(self.path)
            if (
                holder is not None
                and holder.host == socket.gethostname()
                and not _pid_alive(holder.pid)
            ):
                self.path.unlink(missing_ok=True)  # its holder is gone: take it over
                return self._try_exclusive_file()
            return holder or _UNKNOWN
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(_current_holder())))
        self._exclusive_file = True
        return None

    # -- releasing ---------------------------------------------------------------------

    def release(self) -> None:
        if self._fd is not None:
            # Empty the holder record first: a reader that finds the file unlocked must not
            # mistake a finished render for a running one.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None
        if self._exclusive_file:
            self.path.unlink(missing_ok=True)
            self._exclusive_file = False

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


_UNKNOWN = object()


def lock_holder(output: Path) -> LockHolder | None:
    """Who holds `output`'s lock now (another process), or None when nobody does.

    For status displays: the answer can change the moment after it is given.
    """
    path = Path(output) / LOCK_NAME
    if not path.exists():
        return None
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                return _read_holder_file(path) or LockHolder(0, "?", "unknown", "")
            # no flock here: judge by the record below
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
    holder = _read_holder_file(path)
    if holder is None:
        return None
    if holder.host == socket.gethostname() and not _pid_alive(holder.pid):
        return None
    return holder
