"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API.

Tests queue canned replies (a chat completion, an error status, a slow or malformed answer)
and read back every request the client sent, headers included, so they exercise the same
HTTP path a user's OpenAI account or local Ollama/vLLM server would. Replies can be written
the way local models answer (`fenced` JSON, a `listed` reply of numbered or bulleted items),
and `LLMServer(json_mode=False)` refuses requests for JSON mode with a 400, as LM Studio does.

    with LLMServer() as server:
        server.queue(chat('{"subjects": ["a disco ball"]}'))
        ...  # point the client at server.url
        assert server.requests[0].json["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One canned answer: a status, a body and optional headers, after `delay_s` seconds."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Request:
    """What the client sent: method, path, headers (lower-cased names) and the parsed body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


def chat(content: str | None, *, model: str = "test-model", delay_s: float = 0.0) -> Reply:
    """A successful chat completion whose single choice says `content` (None: no content)."""
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return Reply(200, json.dumps(body).encode(), {"content-type": "application/json"}, delay_s)


def error(status: int, message: str, *, code: str | None = None) -> Reply:
    """An error in the OpenAI format. Retry-After is tiny so the client's retries stay fast."""
    body = {"error": {"message": message, "type": "test_error", "param": None, "code": code}}
    headers = {"content-type": "application/json", "retry-after-ms": "5"}
    return Reply(status, json.dumps(body).encode(), headers)


def fenced(value: Any, *, language: str = "json") -> Reply:
    """JSON in a markdown code fence, between a sentence before and after."""
    text = json.dumps(value, indent=2)
    return chat(f"Here is the JSON you asked for:\n```{language}\n{text}\n```\nHope this helps!")


def listed(items: list[str], *, style: str = "numbered") -> Reply:
    """A plain-text list as a chatty model writes it: `numbered` (`1. **item**`, between
    a preface and a closing remark), `bulleted` (mixed `-`, `*`, `•`) or `lines` (one per
    line, nothing else)."""
    if style == "numbered":
        body = [
            f"{i + 1}. **{item}**" if i == 1 else f"{i + 1}. {item}" for i, item in enumerate(items)
        ]
        return chat("Sure! Here are some ideas:\n\n" + "\n".join(body) + "\n\nLet me know!")
    if style == "bulleted":
        marks = ["-", "*", "•"]
        return chat("\n".join(f"{marks[i % 3]} {item}" for i, item in enumerate(items)))
    assert style == "lines", style
    return chat("\n".join(items))


def raw(body: bytes, *, status: int = 200, content_type: str = "application/json") -> Reply:
    """A body sent as is, e.g. broken JSON."""
    return Reply(status, body, {"content-type": content_type})


class LLMServer:
    """Serves queued replies in order; once the queue is empty the last reply repeats.

    `json_mode=False`: a request with `response_format` gets a 400 (and uses up no queued
    reply), like a server without JSON mode.
    """

    def __init__(self, *, json_mode: bool = True) -> None:
        self.json_mode = json_mode
        self.requests: list[Request] = []
        self._replies: deque[Reply] = deque()
        self._last: Reply = error(500, "no reply queued")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                payload = self.rfile.read(length)
                try:
                    parsed = json.loads(payload) if payload else None
                except ValueError:
                    parsed = None
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = server._record(Request("POST", self.path, headers, parsed))
                if reply.delay_s:
                    server._stopping.wait(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up (timeout) and closed the socket
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def _record(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if not self.json_mode and "response_format" in (request.json or {}):
                return error(400, "'response_format.type' must be 'json_schema' or 'text'")
            if self._replies:
                self._last = self._replies.popleft()
            return self._last

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port_url() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
