"""Prompt ideas from an LLM, or from a built-in videography vocabulary when there is none.

The chain follows Generative Disco: (1) the LLM lists concrete, visualisable subjects and
symbols for a goal (a song and artist, a lyric, a mood); (2) each subject becomes a
text-to-image prompt of at most ~20 words, written like alt text with visual modifiers.
For a start prompt it also proposes an end prompt per transition kind (color, time,
subject, style), or rewordings that keep the meaning (for holds).

Any OpenAI-compatible chat-completions server works (OpenAI, Ollama, vLLM, LM Studio).
Replies are asked for as JSON in the prompt rather than with `response_format`, which not
every compatible server supports, and are parsed leniently (code fences, prose around the
JSON, a bare list). The API key is never printed: every message built from a server's
answer is scrubbed of it first.

    llm = connect(model="gpt-4o-mini")          # None without a key or base URL
    ideas = brainstorm_prompts("late-summer heartbreak pop song", llm=llm)
    print(ideas.to_yaml())
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from gendisco.errors import LLMError, UserError

DEFAULT_LLM_MODEL = "gpt-4o-mini"
MAX_WORDS = 20  # the original system's limit: longer prompts dilute the text encoder's focus
TRANSITION_KINDS = ("color", "time", "subject", "style")
# Sent when a base URL is given without a key: local servers (Ollama, LM Studio) ignore it,
# but the client refuses to build a request without one.
PLACEHOLDER_KEY = "no-key"

Status = Callable[[str], None]
T = TypeVar("T")


def _quiet(message: str) -> None:
    pass


# 1. Talking to the server ---------------------------------------------------------------


class ReplyError(ValueError):
    """A reply that is not the JSON shape that was asked for."""


def _public_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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

    def complete(self, messages: list[dict[str, str]], *, seed: int | None = None) -> str:
        """The text of one chat completion; every failure becomes one LLMError line."""
        import openai

        extra: dict[str, Any] = {} if seed is None else {"seed": seed}
        try:
            completion = self._client.chat.completions.create(
                model=self.model, messages=messages, **extra
            )
        except openai.APITimeoutError:
            raise LLMError(
                f"no reply from {self.where} within {self.timeout_s:g} s ({self._tries()}): "
                "try again later or raise --timeout"
            ) from None
        except openai.APIConnectionError as error:
            reason = _one_line(scrub(str(error.__cause__ or error), self._secret), 120)
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
            detail = _one_line(scrub(str(error), self._secret), 120)
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
        detail = _one_line(scrub(str(detail or ""), self._secret), 160)
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
        status: Status = _quiet,
    ) -> T:
        """Ask for JSON, parse it and convert it with `read` (which raises ReplyError).

        A reply that is empty or not the asked-for JSON is asked for once more, with the
        problem named, before giving up: small local models often need the reminder.
        """
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        problem = ""
        for attempt in range(2):
            text = self.complete(messages, seed=seed)
            try:
                return read(parse_json_reply(text))
            except ReplyError as error:
                problem = str(error)
            if attempt == 0:
                status(f"{self.model}: {problem}; asking again")
                messages = [
                    *messages,
                    {"role": "assistant", "content": text or "(empty)"},
                    {
                        "role": "user",
                        "content": f"That reply was not usable: {problem}. "
                        "Answer again with only the JSON asked for, nothing else.",
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


# 2. Reading replies ---------------------------------------------------------------------

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def parse_json_reply(text: str | None) -> Any:
    """The JSON value in a model's reply: bare, in a code fence, or amid prose."""
    if text is None or not text.strip():
        raise ReplyError("the reply was empty")
    text = _THINK.sub("", text).strip()  # reasoning models think out loud first
    if not text:
        raise ReplyError("the reply was empty")
    decoder = json.JSONDecoder()
    for candidate in [*(m.group(1) for m in _FENCE.finditer(text)), text]:
        candidate = candidate.strip()
        try:
            return json.loads(candidate)
        except ValueError:
            pass
        starts = [i for i, ch in enumerate(candidate) if ch in "[{"][:20]
        for start in starts:
            try:
                return decoder.raw_decode(candidate, start)[0]
            except ValueError:
                continue
    raise ReplyError(f"the reply was not JSON ({_one_line(text, 60)!r})")


_ITEM_KEYS = ("prompt", "subject", "text", "description", "name", "variation", "idea")


def _as_text(item: Any) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        for key in _ITEM_KEYS:
            if isinstance(item.get(key), str):
                return item[key]
        strings = [v for v in item.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
    return None


def _list_in(data: Any, key: str) -> list[Any]:
    """The list under `key`, the only list in an object, or a bare list."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get(key), list):
            return data[key]
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    raise ReplyError(f'the reply had no "{key}" list')


_LEADER = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|prompt\s*:)\s*", re.I)


def clean_prompt(text: str) -> str:
    """One line of alt text: no bullets, numbering, quotes or trailing full stop."""
    text = " ".join(text.split())
    text = _LEADER.sub("", text)
    text = text.strip().strip("\"'`“”‘’").strip()
    return text.rstrip(".").strip()


def limit_words(text: str, max_words: int = MAX_WORDS) -> str:
    """At most `max_words` words, cut at the last comma that keeps at least half of them."""
    words = text.split()
    if len(words) <= max_words:
        return text
    cut = " ".join(words[:max_words])
    comma = cut.rfind(",")
    if comma > 0 and len(cut[:comma].split()) >= max_words // 2:
        cut = cut[:comma]
    return cut.rstrip(" ,;:-")


def _strings(items: Sequence[Any], what: str) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        text = _as_text(item)
        if text is None:
            continue
        text = clean_prompt(text)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    if not out:
        raise ReplyError(f"the reply listed no {what}")
    return out


# 3. Results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Idea:
    """One proposed prompt; `subject` for the goal chain, `transition` for end prompts."""

    prompt: str
    subject: str | None = None
    transition: str | None = None


@dataclass(frozen=True)
class Ideas:
    """What a brainstorm proposes, and where the ideas came from."""

    kind: Literal["prompts", "transitions", "variations"]
    query: str  # the goal, or the start prompt
    ideas: list[Idea]
    source: str  # "gpt-4o-mini at the OpenAI API" or "the offline vocabulary (seed 7)"
    notes: list[str] = field(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        return [idea.prompt for idea in self.ideas]

    def to_yaml(self, *, hold_s: float = 4.0, transition_s: float = 8.0) -> str:
        """A commented `intervals:` snippet to paste into a project.

        Prompts and variations become holds, end prompts become transitions from the start
        prompt. Times are consecutive placeholders of `hold_s` / `transition_s` seconds.
        """
        q = _yaml_str(self.query)
        header = {
            "prompts": f"# Prompt ideas for {q}, from {self.source}.",
            "transitions": f"# End prompts for {q}, one per transition kind, from {self.source}.",
            "variations": f"# Rewordings of {q} for holds, from {self.source}.",
        }[self.kind]
        lines = [
            _comment(header),
            "# start/end are placeholders: set them to the song's sections (`gendisco analyze`).",
            "# Each prompt also fits any interval's `from`, `to` or `hold`.",
            "intervals:",
        ]
        length = transition_s if self.kind == "transitions" else hold_s
        for i, idea in enumerate(self.ideas):
            start, end = i * length, (i + 1) * length
            if idea.subject:
                lines.append(_comment(f"  # {idea.subject}"))
            lines += [f"  - start: {start:.1f}", f"    end: {end:.1f}"]
            if self.kind == "transitions":
                lines += [
                    f"    transition: {idea.transition}",
                    f"    from: {{prompt: {_yaml_str(self.query)}}}",
                    f"    to: {{prompt: {_yaml_str(idea.prompt)}}}",
                ]
            else:
                lines.append(f"    hold: {{prompt: {_yaml_str(idea.prompt)}}}")
        return "\n".join(lines) + "\n"


def _yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(text, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.splitlines())


# 4. The LLM chains ----------------------------------------------------------------------

_ROLE = (
    "You help a music video artist write prompts for a text-to-image model that animates "
    "to a song. Reply with JSON only: no prose, no code fences."
)

_ALT_TEXT = (
    f"Each prompt has at most {MAX_WORDS} words and reads like the alt text of a striking "
    "image, not an instruction: a concrete subject first, then visual modifiers (setting, "
    "lighting, color palette, camera angle or shot size, art style or medium). No names of "
    "real people, no text or lettering in the image."
)

_TRANSITION_KINDS_HELP = (
    "- color: the same scene and composition in a different color palette\n"
    "- time: the same scene at a different time of day, season or era\n"
    "- subject: a different subject in a similar setting and framing\n"
    "- style: the same scene in a different art style or medium"
)


def _context(goal: str) -> str:
    return f"\nThe video is for: {goal}" if goal.strip() else ""


def brainstorm_prompts(
    goal: str,
    *,
    llm: LLM | None,
    count: int = 6,
    seed: int | None = None,
    status: Status = _quiet,
) -> Ideas:
    """Subjects for `goal`, each expanded into a prompt of at most MAX_WORDS words.

    `llm=None` uses the offline vocabulary (deterministic for a given `seed`).
    """
    goal = _check_text(goal, "GOAL")
    _check_count(count)
    if llm is None:
        return offline_prompts(goal, count=count, seed=seed)

    # 1. Concrete, visualisable subjects and symbols for the goal.
    status(f"asking {llm.label} for {count} subjects")

    def read_subjects(data: Any) -> list[str]:
        return [limit_words(s, 12) for s in _strings(_list_in(data, "subjects"), "subjects")]

    subjects = llm.ask_json(
        _ROLE,
        f"List {count} concrete, visualisable subjects or symbols (objects, places, creatures, "
        f"scenes) that evoke this, each in a few words: {goal}\n"
        f'Answer as {{"subjects": ["...", ...]}} with exactly {count} items.',
        read_subjects,
        seed=seed,
        status=status,
    )[:count]

    # 2. Each subject as an alt-text prompt with visual modifiers.
    status(f"expanding {len(subjects)} subjects into prompts")
    listing = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(subjects))

    def read_prompts(data: Any) -> list[tuple[str | None, str]]:
        if (
            isinstance(data, dict)
            and "prompts" not in data
            and all(isinstance(v, str) for v in data.values())
        ):
            pairs = [(clean_prompt(k), clean_prompt(v)) for k, v in data.items()]
        else:
            items = _list_in(data, "prompts")
            pairs = []
            for item in items:
                subject = item.get("subject") if isinstance(item, dict) else None
                text = item.get("prompt") if isinstance(item, dict) else item
                text = text if isinstance(text, str) else _as_text(item)
                if text and clean_prompt(text):
                    sub = clean_prompt(subject) if isinstance(subject, str) else None
                    pairs.append((sub, clean_prompt(text)))
        pairs = [(s, p) for s, p in pairs if p]
        if not pairs:
            raise ReplyError("the reply listed no prompts")
        return pairs

    pairs = llm.ask_json(
        _ROLE,
        f"Write one text-to-image prompt for each of these subjects.{_context(goal)}\n"
        f"{listing}\n{_ALT_TEXT}\n"
        'Answer as {"prompts": [{"subject": "...", "prompt": "..."}, ...]} in the same order.',
        read_prompts,
        seed=seed,
        status=status,
    )
    ideas = []
    for i, (subject, prompt) in enumerate(pairs[: len(subjects)]):
        subject = subject or (subjects[i] if i < len(subjects) else None)
        ideas.append(Idea(prompt=prompt, subject=subject))
    return _finish(Ideas("prompts", goal, ideas, llm.label), MAX_WORDS, status)


def brainstorm_transitions(
    prompt: str,
    *,
    llm: LLM | None,
    goal: str = "",
    seed: int | None = None,
    status: Status = _quiet,
) -> Ideas:
    """An end prompt for each transition kind (color, time, subject, style) from `prompt`."""
    prompt = _check_text(prompt, "--transitions")
    if llm is None:
        return offline_transitions(prompt, seed=seed)
    status(f"asking {llm.label} for transitions")

    def read(data: Any) -> dict[str, str]:
        if isinstance(data, list):  # [{"transition": "color", "prompt": "..."}, ...]
            data = {
                str(item.get("transition") or item.get("kind")): _as_text(item)
                for item in data
                if isinstance(item, dict)
            }
        if isinstance(data, dict) and isinstance(data.get("transitions"), dict):
            data = data["transitions"]
        if not isinstance(data, dict):
            raise ReplyError("the reply was not an object of transition kinds")
        found = {}
        for kind in TRANSITION_KINDS:
            text = _as_text(data.get(kind))
            if text and clean_prompt(text):
                found[kind] = clean_prompt(text)
        missing = [k for k in TRANSITION_KINDS if k not in found]
        if missing:
            raise ReplyError(f"the reply had no end prompt for {', '.join(missing)}")
        return found

    ends = llm.ask_json(
        _ROLE,
        f"Start prompt: {prompt}{_context(goal)}\n"
        "Propose the end prompt of a transition for each of these kinds:\n"
        f"{_TRANSITION_KINDS_HELP}\n{_ALT_TEXT}\n"
        'Answer as {"color": "...", "time": "...", "subject": "...", "style": "..."}.',
        read,
        seed=seed,
        status=status,
    )
    ideas = [Idea(prompt=ends[kind], transition=kind) for kind in TRANSITION_KINDS]
    return _finish(Ideas("transitions", prompt, ideas, llm.label), _end_limit(prompt), status)


def brainstorm_variations(
    prompt: str,
    *,
    llm: LLM | None,
    count: int = 4,
    goal: str = "",
    seed: int | None = None,
    status: Status = _quiet,
) -> Ideas:
    """`count` rewordings of `prompt` that keep its meaning (a hold's prompt, said anew)."""
    prompt = _check_text(prompt, "--variations")
    _check_count(count)
    if llm is None:
        return offline_variations(prompt, count=count, seed=seed)
    status(f"asking {llm.label} for {count} variations")

    def read(data: Any) -> list[str]:
        texts = _strings(_list_in(data, "variations"), "variations")
        texts = [t for t in texts if t.lower() != prompt.lower()]
        if not texts:
            raise ReplyError("the reply only repeated the prompt")
        return texts

    texts = llm.ask_json(
        _ROLE,
        f"Prompt: {prompt}{_context(goal)}\n"
        f"Write {count} rewordings of this prompt that keep its subject, setting and mood "
        "(other words, another order, a synonym, a slightly different framing), so that "
        f"images made from them look like the same scene. {_ALT_TEXT}\n"
        f'Answer as {{"variations": ["...", ...]}} with exactly {count} items.',
        read,
        seed=seed,
        status=status,
    )[:count]
    ideas = [Idea(prompt=t) for t in texts]
    return _finish(Ideas("variations", prompt, ideas, llm.label), _end_limit(prompt), status)


def _end_limit(prompt: str) -> int:
    # An end prompt often repeats a long start prompt plus a modifier; cutting it back to
    # MAX_WORDS would drop exactly the modifier that makes the transition.
    return max(MAX_WORDS, len(prompt.split()) + 8)


def _finish(ideas: Ideas, max_words: int, status: Status) -> Ideas:
    trimmed = 0
    kept: list[Idea] = []
    for idea in ideas.ideas:
        short = limit_words(idea.prompt, max_words)
        trimmed += short != idea.prompt
        kept.append(Idea(short, idea.subject, idea.transition))
    notes = list(ideas.notes)
    if trimmed:
        notes.append(f"trimmed {trimmed} prompt{'s' if trimmed != 1 else ''} to {max_words} words")
        status(notes[-1])
    return Ideas(ideas.kind, ideas.query, kept, ideas.source, notes)


def _check_text(text: str, what: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise UserError(f"{what} must not be empty")
    return text


def _check_count(count: int) -> None:
    if not 1 <= count <= 50:
        raise UserError(f"--count must be between 1 and 50, got {count}")


SHEET_SEED = 42  # the project's default seed: tiles show what an interval without a seed gets


def check_sheet_path(out: str | os.PathLike[str]) -> Path:
    """The PNG path for `render_sheet`, checked before any LLM call or model load."""
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise UserError(f"{path}: a preview sheet is a PNG; give a path ending in .png")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: folder does not exist")
    return path


def render_sheet(
    prompts: Sequence[str],
    *,
    model: str,
    out: str | os.PathLike[str],
    device: str | None = None,
    seed: int | None = None,
    width: int = 512,
    height: int = 512,
    steps: int = 2,
    title: str = "",
    status: Status = _quiet,
) -> Path:
    """One tile per prompt, all with the same seed, as a contact sheet PNG at `out`.

    Loads the diffusion model (torch), so models and preview are imported only here.
    """
    from gendisco.models import generate_images, load_pipeline
    from gendisco.preview import contact_sheet, save_sheet

    path = check_sheet_path(out)
    seed = SHEET_SEED if seed is None else seed
    status(f"loading {model}")
    pipe = load_pipeline(model, device=device)
    status(f"rendering {len(prompts)} prompts (seed {seed})")
    images = generate_images(
        pipe,
        prompts=list(prompts),
        seeds=[seed] * len(prompts),
        width=width,
        height=height,
        steps=steps,
        guidance=0.0,
    )
    labels = [f"{i + 1}. seed {seed}\n{prompt}" for i, prompt in enumerate(prompts)]
    return save_sheet(contact_sheet(images, labels, title=title), path)


# 5. The offline vocabulary --------------------------------------------------------------
# Videography domain knowledge, as in Generative Disco's non-LLM suggestions.

PALETTES = (
    "neon pink and teal",
    "warm amber and gold",
    "cool blue and silver",
    "pastel lavender and mint",
    "deep crimson and black",
    "sunset orange and violet",
    "black and white",
    "emerald green and gold",
    "faded sepia tones",
    "electric blue and magenta",
    "muted earth tones",
    "iridescent holographic colors",
)
TIMES = (
    "at dawn",
    "at golden hour",
    "at dusk",
    "at night",
    "at blue hour",
    "under a midday sun",
    "in midwinter snow",
    "in spring bloom",
    "in autumn rain",
    "in a summer heatwave",
    "under a full moon",
    "in morning fog",
)
SHOTS = (
    "extreme close-up",
    "close-up",
    "medium shot",
    "wide shot",
    "aerial view",
    "low-angle shot",
    "high-angle shot",
    "dutch angle",
    "bird's-eye view",
    "macro shot",
    "panoramic view",
    "silhouette framing",
)
LIGHTING = (
    "soft diffused light",
    "dramatic rim lighting",
    "neon glow",
    "volumetric light rays",
    "candlelight",
    "harsh flash",
    "backlit",
    "moody chiaroscuro",
    "glowing bokeh",
    "strobe lights",
    "moonlight",
    "studio lighting",
)
STYLES = (
    "oil painting",
    "watercolor",
    "35mm film photograph",
    "ukiyo-e woodblock print",
    "pixel art",
    "charcoal sketch",
    "art deco poster",
    "vaporwave digital art",
    "claymation",
    "stained glass",
    "cyberpunk illustration",
    "impressionist painting",
    "risograph print",
    "3D render",
    "paper cut collage",
)
SUBJECTS = (
    "a mirror disco ball",
    "dancers on a crowded dance floor",
    "a city skyline",
    "ocean waves crashing",
    "a spinning vinyl record",
    "a lone figure on a rooftop",
    "a field of wildflowers",
    "a neon-lit highway",
    "a flock of birds in flight",
    "a glowing jellyfish",
    "a vintage convertible",
    "a burning candle",
    "a galaxy of swirling stars",
    "a koi pond",
)
# Words in a goal that suggest symbols; matched at the start of a word ("heart" in "heartbreak").
SYMBOLS: dict[str, tuple[str, ...]] = {
    "summer": ("a sunlit beach", "a melting ice cream cone", "an empty swimming pool"),
    "heart": ("a cracked heart-shaped locket", "a wilted red rose", "an empty chair"),
    "love": ("two silhouettes holding hands", "a red rose", "a love letter"),
    "night": ("a moonlit street", "a starry sky", "a neon sign in the dark"),
    "rain": ("raindrops on a window", "a red umbrella on a wet street"),
    "city": ("a city skyline", "a busy crosswalk", "a subway train"),
    "ocean": ("ocean waves crashing", "a lighthouse", "a sailboat"),
    "sea": ("ocean waves crashing", "a lighthouse", "a sailboat"),
    "danc": ("dancers on a crowded dance floor", "a mirror disco ball"),
    "disco": ("a mirror disco ball", "a lit-up dance floor"),
    "party": ("confetti in the air", "a mirror disco ball", "balloons"),
    "fire": ("a roaring bonfire", "sparks flying"),
    "star": ("a galaxy of swirling stars", "a shooting star"),
    "space": ("an astronaut floating", "a ringed planet"),
    "dream": ("clouds shaped like islands", "a floating staircase"),
    "winter": ("a snowy forest", "frost on glass"),
    "snow": ("a snowy forest", "a snow globe"),
    "sun": ("a blazing sun", "sunflowers"),
    "moon": ("a full moon", "a moonlit lake"),
    "forest": ("a misty forest", "a giant old tree"),
    "drive": ("a neon-lit highway", "a vintage convertible"),
    "road": ("an empty desert road", "a neon-lit highway"),
    "car": ("a vintage convertible", "headlights on a wet road"),
    "lonel": ("a lone figure on a rooftop", "an empty diner"),
    "sad": ("a wilted red rose", "raindrops on a window"),
    "tear": ("a single tear", "raindrops on a window"),
    "happy": ("a field of sunflowers", "balloons"),
    "joy": ("confetti in the air", "a field of sunflowers"),
    "storm": ("lightning over the sea", "storm clouds"),
    "electr": ("lightning over the sea", "a neon sign in the dark"),
    "neon": ("a neon sign in the dark", "a neon-lit highway"),
    "home": ("a lit window at night", "a house on a hill"),
    "flower": ("a field of wildflowers", "a blooming rose"),
    "rose": ("a blooming rose", "rose petals on water"),
    "bird": ("a flock of birds in flight", "a hummingbird"),
    "gold": ("a golden crown", "gold dust in the air"),
    "ghost": ("a ghostly figure in fog", "an abandoned mansion"),
    "mountain": ("snow-capped mountains", "a mountain lake"),
    "desert": ("sand dunes", "an empty desert road"),
    "river": ("a winding river", "a stone bridge"),
}
_TIME_WORDS = re.compile(
    r"\b(?:(?:at|in|during|under)\s+(?:the\s+|a\s+)?)?"
    r"(?:dawn|dusk|sunset|sunrise|night(?:time)?|midnight|noon|midday|morning|evening|"
    r"twilight|golden hour|blue hour|daylight)\b",
    re.I,
)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "dusk": ("twilight", "nightfall"),
    "night": ("nighttime", "dark"),
    "ocean": ("sea",),
    "sea": ("ocean",),
    "big": ("large", "huge"),
    "small": ("little", "tiny"),
    "glowing": ("luminous", "shining"),
    "bright": ("vivid", "brilliant"),
    "dark": ("shadowy", "dim"),
    "forest": ("woods", "woodland"),
    "street": ("road", "avenue"),
    "sky": ("heavens",),
    "light": ("glow",),
    "old": ("ancient", "weathered"),
    "beautiful": ("stunning", "gorgeous"),
    "flowers": ("blossoms", "blooms"),
    "car": ("automobile",),
    "house": ("home",),
    "woman": ("lady",),
    "man": ("gentleman",),
    "dancing": ("dancers",),
    "neon": ("fluorescent",),
}


def _rng(seed: int | None) -> tuple[random.Random, int]:
    if seed is None:
        seed = random.SystemRandom().randrange(10_000)
    return random.Random(seed), seed


def _draw(rng: random.Random, pool: Sequence[str], k: int) -> list[str]:
    """`k` items, all different until the pool is used up."""
    out: list[str] = []
    while len(out) < k:
        out += rng.sample(list(pool), min(len(pool), k - len(out)))
    return out


def _symbols_for(goal: str) -> list[str]:
    words = re.findall(r"[a-z]+", goal.lower())
    found: list[str] = []
    for stem, symbols in SYMBOLS.items():
        if any(w.startswith(stem) for w in words):
            found += [s for s in symbols if s not in found]
    return found


def _offline_source(seed: int) -> str:
    return f"the offline vocabulary (seed {seed})"


def offline_prompts(goal: str, *, count: int = 6, seed: int | None = None) -> Ideas:
    """Subjects suggested by the goal's words (else the goal itself), dressed with shot,
    lighting, palette and medium from the vocabulary. Deterministic for a given seed."""
    rng, seed = _rng(seed)
    symbols = _symbols_for(goal)
    rng.shuffle(symbols)
    subjects = symbols[:count] if symbols else [limit_words(goal, 10)]
    extra = [s for s in SUBJECTS if s not in subjects]
    rng.shuffle(extra)
    subjects += extra[: count - len(subjects)]
    shots, lights = _draw(rng, SHOTS, count), _draw(rng, LIGHTING, count)
    palettes, styles = _draw(rng, PALETTES, count), _draw(rng, STYLES, count)
    ideas = [
        Idea(
            prompt=limit_words(f"{subject}, {shots[i]}, {lights[i]}, {palettes[i]}, {styles[i]}"),
            subject=subject,
        )
        for i, subject in enumerate(subjects)
    ]
    return Ideas("prompts", goal, ideas, _offline_source(seed))


def _split_subject(prompt: str) -> tuple[str, str]:
    subject, _, rest = prompt.partition(",")
    return subject.strip(), rest.strip()


def offline_transitions(prompt: str, *, seed: int | None = None) -> Ideas:
    """Color: a palette added; time: the time of day swapped or added; subject: another
    subject with the same modifiers; style: a medium added. Deterministic for a seed."""
    rng, seed = _rng(seed)
    lower = prompt.lower()
    palette = rng.choice([p for p in PALETTES if p.split()[0] not in lower] or PALETTES)
    when = rng.choice([t for t in TIMES if t.split()[-1] not in lower] or list(TIMES))
    if _TIME_WORDS.search(prompt):
        timed = _TIME_WORDS.sub(when, prompt, count=1)
    else:
        subject, rest = _split_subject(prompt)
        timed = ", ".join(x for x in (f"{subject} {when}", rest) if x)
    subject, rest = _split_subject(prompt)
    candidates = [
        s for s in (_symbols_for(prompt) + list(SUBJECTS)) if s.lower() != subject.lower()
    ]
    other = rng.choice([s for s in candidates if s.lower() not in lower] or candidates)
    if not rest:
        rest = ", ".join([rng.choice(SHOTS), rng.choice(LIGHTING)])
    style = rng.choice([s for s in STYLES if s.lower() not in lower])
    ends = {
        "color": f"{prompt}, {palette}",
        "time": timed,
        "subject": f"{other}, {rest}",
        "style": f"{prompt}, {style}",
    }
    limit = _end_limit(prompt)
    ideas = [Idea(limit_words(ends[k], limit), transition=k) for k in TRANSITION_KINDS]
    return Ideas("transitions", prompt, ideas, _offline_source(seed))


def offline_variations(prompt: str, *, count: int = 4, seed: int | None = None) -> Ideas:
    """Synonyms swapped in, modifiers reordered, a shot size or angle added: the scene
    stays the same. Deterministic for a seed."""
    rng, seed = _rng(seed)
    subject, rest = _split_subject(prompt)
    modifiers = [m.strip() for m in rest.split(",") if m.strip()]

    def synonyms(text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            word = match.group(0)
            choices = SYNONYMS.get(word.lower())
            if not choices or rng.random() < 0.3:
                return word
            new = rng.choice(choices)
            return new.capitalize() if word[0].isupper() else new

        return re.sub(r"[A-Za-z]+", swap, text)

    seen = {prompt.lower()}
    out: list[str] = []
    shots = _draw(rng, SHOTS, len(SHOTS))
    for attempt in range(count * 8):
        mods = list(modifiers)
        rng.shuffle(mods)
        if attempt % 2 or not mods or attempt >= count * 4:
            mods.insert(rng.randrange(len(mods) + 1), shots[attempt % len(shots)])
        text = ", ".join([synonyms(subject), *mods])
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
        if len(out) == count:
            break
    limit = _end_limit(prompt)
    ideas = [Idea(limit_words(t, limit)) for t in out]
    return Ideas("variations", prompt, ideas, _offline_source(seed))
