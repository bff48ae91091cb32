"""Run the studio: bind the address, print the URL, open the browser, stop cleanly.

Ctrl-C (or SIGTERM) stops the server: open event streams end, a running render stops at
its next batch and keeps its finished clips, and the process exits 130 like every other
interrupted gendisco command.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gendisco.errors import UserError
from gendisco.studio.security import LOOPBACK_NAMES, Guard, is_loopback, new_token

DEFAULT_PORT = 8765
PORT_TRIES = 10  # with the default port: the next free one of this many
STOP_TIMEOUT_S = 60.0  # a running batch finishes within this on any sane machine


@dataclass(frozen=True)
class Bound:
    sock: socket.socket
    host: str
    port: int

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


def bind(host: str, port: int | None) -> Bound:
    """A listening socket on host:port (None: DEFAULT_PORT or one of the next few free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = [port] if port is not None else range(DEFAULT_PORT, DEFAULT_PORT + PORT_TRIES)
    last_error: OSError | None = None
    for candidate in candidates:
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
        # proto says TCP; with proto 0 every response waited ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as error:
            sock.close()
            last_error = error
            if error.errno == errno.EADDRINUSE:
                continue
            raise UserError(f"cannot listen on {host}:{candidate}: {error.strerror}") from None
        sock.listen(128)
        sock.set_inheritable(True)
        return Bound(sock, host, sock.getsockname()[1])
    tried = f"port {port}" if port is not None else f"ports {candidates[0]}-{candidates[-1]}"
    reason = last_error.strerror if last_error else "in use"
    raise UserError(f"cannot listen on {host}, {tried}: {reason}; pass --port 0 for any free port")


def check_host(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise UserError(
            f"--host {host} would let other machines reach the studio (and your files); "
            "add --allow-remote if that is what you want"
        )


def serve(
    project_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    allow_remote: bool = False,
    open_browser: bool = True,
    model: str | None = None,
    device: str | None = None,
    announce: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> None:
    """Serve the studio for `project_path` until interrupted (KeyboardInterrupt)."""
    import uvicorn

    from gendisco.studio.app import create_app
    from gendisco.studio.workspace import Workspace

    check_host(host, allow_remote)
    workspace = Workspace(project_path, model=model, device=device)
    bound = bind(host, port)
    token = new_token()
    hosts = frozenset() if allow_remote and not is_loopback(host) else LOOPBACK_NAMES
    guard = Guard(token=token, port=bound.port, hosts=hosts)
    app = create_app(workspace, guard)
    if not is_loopback(host):
        warn(
            f"the studio listens on {host}: anyone who can reach this machine and has the "
            "URL's token can read the project's files and run renders"
        )

    class Server(uvicorn.Server):
        stopped_by_signal = False

        def handle_exit(self, sig: int, frame) -> None:
            self.stopped_by_signal = True
            workspace.hub.close()  # end the event streams, or shutdown waits for them
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # the token is in URLs: keep it out of logs
        timeout_graceful_shutdown=5,
        lifespan="on",
    )
    server = Server(config)
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else bound.url_host
    url = f"http://{url_host}:{bound.port}/?token={token}"

    def announce_when_started() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if server.started:
            announce(url)
            if open_browser:
                with contextlib.suppress(Exception):
                    webbrowser.open(url)

    workspace.start()
    threading.Thread(target=announce_when_started, daemon=True).start()
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)  # a polite kill stops like Ctrl-C
    try:
        server.run(sockets=[bound.sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
        workspace.close(STOP_TIMEOUT_S)
        bound.sock.close()
    if server.stopped_by_signal:
        # uvicorn re-raises the signal after its shutdown, but a process started with SIGINT
        # ignored (a background job of a script) would then exit 0: stopped is stopped
        raise KeyboardInterrupt


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
