"""Talking to an OpenAI-compatible chat-completions server; every failure is one line."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from gendisco.brainstorm.ideas import Status, quiet
from gendisco.brainstorm.replies import ReplyError, one_line, read_reply
from gendisco.brainstorm.templates import ask
from gendisco.errors import LLMError, UserError

DEFAULT_LLM_MODEL = "gpt-4o-mini"
# Sent when a base URL is given without a key: local servers (Ollama, LM Studio) ignore it,
# but the client refuses to build a request without one.
PLACEHOLDER_KEY = "no-key"

T = TypeVar("T")

# (base URL, model) of the servers that refused JSON mode in this process: a long-running
# process (the studio) makes a client per request, and each would be refused again
_NO_JSON_MODE: set[tuple[str | None, str]] = set()


def _public_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def scrub(text: str, secret: str | None) -> str:
    """`text` with the key, any fragment of it and any masked key (`sk-ab***yz`) removed.

    Servers echo parts of a rejected key in their error messages; none of it may reach
    the terminal or a log.
    """
    if secret and secret != PLACEHOLDER_KEY:
        text = text.replace(secret, "[key]")
        window = 6
        if len(secret) >= window:
            fragments = {secret[i : i + window] for i in range(len(secret) - window + 1)}

            def redact(match: re.Match[str]) -> str:
                token = match.group(0)
                return "[key]" if any(f in token for f in fragments) else token

            text = re.sub(r"[^\s'\"]+", redact, text)
    text = re.sub(r"[^\s'\"]*\*{3,}[^\s'\"]*", "[key]", text)
    return re.sub(r"\bsk-[A-Za-z0-9_\-]{4,}", "[key]", text)


class LLM:
    """A chat-completions endpoint and the model to ask.

    `timeout_s` bounds each HTTP request; the openai client retries connection errors,
    timeouts, 408/409/429 and 5xx answers `max_retries` times with exponential backoff
    (honouring Retry-After).

    Requests for JSON ask for the server's JSON mode (`response_format`) until the server
    refuses it once (LM Studio and some llama.cpp builds answer 400); from then on this
    client, and any later one for the same server and model in this process, asks without
    it, and the prompt alone asks for JSON.
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_LLM_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ):
        if not model.strip():
            raise UserError("--llm-model must not be empty")
        if timeout_s <= 0:
            raise UserError(f"--timeout must be positive, got {timeout_s:g}")
        if max_retries < 0:
            raise UserError(f"--retries must be 0 or more, got {max_retries}")
        if base_url is not None and urlsplit(base_url).scheme not in ("http", "https"):
            raise UserError(
                f"--base-url must start with http:// or https://, got {_public_url(base_url)!r}"
            )
        import openai  # ~1 s to import: only when a server is actually asked

        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._secret = api_key or None
        # False once the server refused `response_format`
        self.json_mode = (base_url, model) not in _NO_JSON_MODE
        self._client = openai.OpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:  # never the key
        return f"LLM(model={self.model!r}, base_url={self.where!r})"

    @property
    def where(self) -> str:
        return f"the server at {_public_url(self.base_url)}" if self.base_url else "the OpenAI API"

    @property
    def label(self) -> str:
        """`model at server`, for status lines and YAML comments."""
        where = _public_url(self.base_url) if self.base_url else "the OpenAI API"
        return f"{self.model} at {where}"

    def _tries(self) -> str:
        n = self.max_retries + 1
        return f"tried {n} time{'s' if n != 1 else ''}"

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        seed: int | None = None,
        json_mode: bool = False,
        status: Status = quiet,
    ) -> str:
        """The text of one chat completion; every failure becomes one LLMError line.

        `json_mode` asks for the server's JSON mode, where it has not refused it before.
        """
        import openai

        extra: dict[str, Any] = {} if seed is None else {"seed": seed}

        def create(**more: Any) -> Any:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, **extra, **more
            )

        try:
            if json_mode and self.json_mode:
                try:
                    completion = create(response_format={"type": "json_object"})
                except (openai.BadRequestError, openai.UnprocessableEntityError):
                    # a server without JSON mode refuses the request: ask again without it,
                    # now and for every later request of this client
                    self.json_mode = False
                    _NO_JSON_MODE.add((self.base_url, self.model))
                    status(f"{self.where} has no JSON mode; asking without it")
                    completion = create()
            else:
                completion = create()
        except openai.APITimeoutError:
            raise LLMError(
                f"no reply from {self.where} within {self.timeout_s:g} s ({self._tries()}): "
                "try again later or raise --timeout"
            ) from None
        except openai.APIConnectionError as error:
            reason = one_line(scrub(str(error.__cause__ or error), self._secret), 120)
            hint = (
                "is the server running and --base-url right?"
                if self.base_url
                else "check the network connection"
            )
            raise LLMError(
                f"cannot connect to {self.where} ({reason}, {self._tries()}): {hint}"
            ) from None
        except openai.APIStatusError as error:
            raise LLMError(self._status_message(error)) from None
        except ValueError:  # a 200 answer whose body is not JSON at all
            raise LLMError(
                f"{self.where} answered something that is not a chat completion "
                "(the body is not valid JSON): is --base-url an OpenAI-compatible /v1 endpoint?"
            ) from None
        except openai.OpenAIError as error:
            detail = one_line(scrub(str(error), self._secret), 120)
            raise LLMError(
                f"{self.where} answered something that is not a chat completion ({detail})"
            ) from None
        try:
            content = completion.choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError):
            raise LLMError(
                f"{self.where} answered something that is not a chat completion "
                "(no choices[0].message): is --base-url an OpenAI-compatible /v1 endpoint?"
            ) from None
        return content if isinstance(content, str) else ""

    def _status_message(self, error: Any) -> str:
        status = error.status_code
        body = error.body
        detail = body.get("message") if isinstance(body, dict) else body
        detail = one_line(scrub(str(detail or ""), self._secret), 160)
        said = f': "{detail}"' if detail else ""
        if status == 401:  # the server's words may quote the key: leave them out
            return f"{self.where} rejected the API key (401 Unauthorized): check OPENAI_API_KEY"
        if status == 403:
            return (
                f"{self.where} refused access (403 Forbidden{said}): "
                f"check that the key may use {self.model!r}"
            )
        if status == 404:
            return (
                f"{self.where} found no such model or endpoint (404 Not Found{said}): "
                f"check --llm-model ({self.model!r}) and --base-url"
            )
        if status == 429:
            return (
                f"{self.where} is rate limiting requests (429 Too Many Requests{said}); "
                f"{self._tries()}: wait a minute or check the account's quota"
            )
        if status >= 500:
            return (
                f"{self.where} failed with a server error ({status}{said}); "
                f"{self._tries()}: try again later"
            )
        return f"{self.where} refused the request ({status}{said})"

    def ask_json(
        self,
        system: str,
        user: str,
        read: Callable[[Any], T],
        *,
        seed: int | None = None,
        status: Status = quiet,
    ) -> T:
        """Ask for JSON and convert the reply with `read` (which raises ReplyError).

        `read` gets the reply's JSON value or, where that does not suit it, the reply's
        plain list of items (see replies.read_reply). A reply with nothing usable is asked
        for once more, with the problem named, before giving up: small local models often
        need the reminder.
        """
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        problem = ""
        for attempt in range(2):
            text = self.complete(messages, seed=seed, json_mode=True, status=status)
            try:
                return read_reply(text, read)
            except ReplyError as error:
                problem = str(error)
            if attempt == 0:
                status(f"{self.model}: {problem}; asking again")
                messages = [
                    *messages,
                    {"role": "assistant", "content": text or "(empty)"},
                    {
                        "role": "user",
                        "content": ask("retry", problem=problem),
                    },
                ]
        raise LLMError(
            f"{self.label} gave an unusable reply twice ({scrub(problem, self._secret)}): "
            "try again or use another --llm-model"
        )


def connect(
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 60.0,
    max_retries: int = 2,
    environ: dict[str, str] | None = None,
) -> LLM | None:
    """An LLM from arguments, else OPENAI_API_KEY / OPENAI_BASE_URL / GENDISCO_LLM_MODEL.

    None when there is neither a key nor a base URL: the caller falls back to the offline
    vocabulary. A base URL without a key (Ollama, LM Studio) sends a placeholder key.
    """
    env = os.environ if environ is None else environ
    api_key = api_key or env.get("OPENAI_API_KEY") or None
    base_url = base_url or env.get("OPENAI_BASE_URL") or None
    model = model or env.get("GENDISCO_LLM_MODEL") or DEFAULT_LLM_MODEL
    if api_key is None and base_url is None:
        return None
    return LLM(
        model=model,
        api_key=api_key,
        base_url=base_url,
        timeout_s=timeout_s,
        max_retries=max_retries,
    )
