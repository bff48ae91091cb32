"""Who may talk to the studio, and which files a request may reach.

The model is Jupyter's: the server binds the loopback address unless told otherwise, and
every request must carry a random token made for this run (printed in the URL; the page
then keeps it in a cookie and a header). On top of the token:

- the Host header must name this machine as the user typed it (127.0.0.1, localhost,
  [::1]), so a DNS-rebinding page on another name is refused even before the token check;
- a browser's Origin header, when present, must be the studio's own, so no other site can
  make the user's browser send requests to it;
- files are served from the project's folder and its output folder only, by relative path,
  after resolving `..` and symbolic links, and never hidden files (locks, partial files).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_HEADER = "x-gendisco-token"
TOKEN_QUERY = "token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def new_token() -> str:
    """A random per-run token: 24 bytes, URL-safe (as Jupyter's)."""
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    # one cookie per port: two studios on one machine must not overwrite each other's token
    return f"gendisco-studio-{port}"


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(value: str) -> str:
    """`127.0.0.1:8765` -> `127.0.0.1`, `[::1]:8765` -> `::1`, lowercased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class Guard:
    """The checks every request passes: its token, Host and Origin."""

    token: str
    port: int
    # names the Host header may carry; empty = any (only with an explicit --allow-remote)
    hosts: frozenset[str] = field(default=LOOPBACK_NAMES)

    def token_ok(self, candidates: Iterable[str | None]) -> bool:
        expected = self.token.encode()
        return any(
            value is not None and hmac.compare_digest(value.encode(), expected)
            for value in candidates
        )

    def host_ok(self, host: str | None) -> bool:
        if host is None:
            return False
        return not self.hosts or _hostname(host) in self.hosts

    def origin_ok(self, origin: str | None, host: str | None) -> bool:
        """No Origin (curl, scripts, same-origin GETs) is fine: the token still decides."""
        if origin is None:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        # same origin: the page was served by this very host and port
        return host is not None and parts.netloc.lower() == host.strip().lower()


class GuardMiddleware:
    """ASGI middleware: refuse, with a one-line JSON error, what the Guard does not allow.

    A valid `?token=` on a page request also sets the token cookie, so the media elements
    and the event stream of that page carry it without putting it in every URL.
    """

    def __init__(self, app: ASGIApp, guard: Guard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the studio has none: refuse them all
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host")
        problem = self._problem(scope, headers, host)
        if problem is not None:
            status, message = problem
            response = JSONResponse({"error": message}, status_code=status)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope, headers: Headers, host: str | None) -> tuple[int, str] | None:
        guard = self.guard
        if not guard.host_ok(host):
            return 400, f"this studio does not answer for host {host!r}; open it by its printed URL"
        if not guard.origin_ok(headers.get("origin"), host):
            return 403, "requests from other sites are refused"
        query = _query_token(scope.get("query_string", b""))
        cookie = _cookie(headers.get("cookie"), cookie_name(guard.port))
        if not guard.token_ok((headers.get(TOKEN_HEADER), query, cookie)):
            return 401, "missing or wrong token: open the studio by the URL it printed"
        return None


def _query_token(query_string: bytes) -> str | None:
    values = parse_qs(query_string.decode("latin-1")).get(TOKEN_QUERY)
    return values[0] if values else None


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class OutsideFolder(Exception):
    """A requested path that leaves its folder, or names a hidden or missing file."""


def safe_file(root: Path, relative: str) -> Path:
    """`root / relative`, resolved, if it is an existing, visible file inside `root`.

    Refuses absolute paths, `..` that climbs out, symbolic links that point out, and any
    part starting with a dot (the output lock, partial files being written).
    """
    if not relative or relative.startswith(("/", "\\")) or "\x00" in relative:
        raise OutsideFolder(relative)
    parts = Path(relative).parts
    if any(part.startswith(".") for part in parts):
        raise OutsideFolder(relative)
    base = root.resolve()
    candidate = (base / relative).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        raise OutsideFolder(relative)
    return candidate
