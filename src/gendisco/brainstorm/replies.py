"""Reading what a model answered: JSON in whatever wrapping it came, or a plain list (numbered,
bulleted, one item per line), items as prompts.

Models are asked for JSON, but local ones often answer as a person would; whatever a person
would accept is accepted: `reply_candidates` yields the readings of a reply, best first, and
the caller keeps the first its stage can use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gendisco.brainstorm.ideas import MAX_WORDS

T = TypeVar("T")


class ReplyError(ValueError):
    """A reply in which no usable answer could be found."""


def one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


def _without_thinking(text: str | None) -> str:
    if text is None or not text.strip():
        raise ReplyError("the reply was empty")
    text = _THINK.sub("", text).strip()  # reasoning models think out loud first
    if not text:
        raise ReplyError("the reply was empty")
    return text


def parse_json_reply(text: str | None) -> Any:
    """The JSON value in a model's reply: bare, in a code fence, or amid prose."""
    found = _json_and_rest(_without_thinking(text))
    if found is None:
        raise ReplyError(f"the reply was not JSON ({one_line(text or '', 60)!r})")
    return found[0]


def _json_and_rest(text: str) -> tuple[Any, str] | None:
    """The first JSON value in `text` (in a code fence first), and the text around it."""
    for fence in _FENCE.finditer(text):  # the whole fence goes
        found = _first_json(fence.group(1).strip())
        if found is not None:
            return found[0], text[: fence.start()] + "\n" + text[fence.end() :]
    found = _first_json(text)  # `text` is stripped: the value's span is in it
    if found is not None:
        value, (start, end) = found
        return value, text[:start] + "\n" + text[end:]
    return None


def _first_json(text: str) -> tuple[Any, tuple[int, int]] | None:
    """The whole of `text` as JSON, or the first JSON array or object in it, with its span."""
    try:
        return json.loads(text), (0, len(text))
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for start in [i for i, ch in enumerate(text) if ch in "[{"][:20]:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        return value, (start, end)
    return None


# A list item: `1.`, `1)`, `(1)`, `-`, `*`, `•`; markdown emphasis and headings around it
_MARKED = re.compile(r"^\s*(?:\(?\d{1,3}[.):]|[-*•+–])\s+(?=\S)")
_HEADING = re.compile(r"^\s*(?:#+\s|```|~~~)")
_EMPHASIS = re.compile(r"(\*\*|__|\*(?=\S)|(?<=\S)\*)")
# What a model says around a list, or instead of one: never a prompt. Openers, and words
# that only talk about the answer (an apology, "JSON", "as an AI")
_CHATTER = re.compile(
    r"^(?:sure|okay|ok|certainly|of course|absolutely|here(?:'s| is| are)|"
    r"i(?:'m| am)? ?(?:sorry|can(?:no|')t|cannot|hope|would|will)|unfortunately|"
    r"let me know|feel free|note\b|hope this|enjoy)\b"
    r"|\b(?:sorry|apologi[sz]e|json|as an ai|language model|i can(?:no|')t|i'm unable)\b",
    re.I,
)


def plain_items(text: str | None) -> list[str]:
    """The items of a reply written as a list rather than JSON.

    A numbered or bulleted list gives its items (the prose around it is skipped); without
    one, each line is an item. Headings, fences, lines ending in a colon and chatter
    ("Sure! Here are...", "I'm sorry, ...") are never items.
    """
    lines = [line for line in _without_thinking(text).splitlines() if line.strip()]
    lines = [line for line in lines if not _HEADING.match(line)]
    marked = [line for line in lines if _MARKED.match(line)]
    items = []
    for line in marked or lines:
        line = _EMPHASIS.sub("", _MARKED.sub("", line)).strip()
        wordy = any(ch.isalpha() for ch in line)  # not a separator such as `---`
        if wordy and not line.endswith(":") and not _CHATTER.search(line):
            items.append(line)
    return items


def reply_candidates(text: str | None) -> list[Any]:
    """What a reply may mean, best first: its JSON value, then the plain list of items in
    the rest of it (a reply that is all JSON has no second reading).

    Raises ReplyError when it holds neither (empty, or chatter only).
    """
    text = _without_thinking(text)
    candidates: list[Any] = []
    rest = text
    found = _json_and_rest(text)
    if found is not None:
        candidates.append(found[0])
        rest = found[1]
    items = plain_items(rest) if rest.strip() else []
    if items:
        candidates.append(items)
    if not candidates:
        raise ReplyError(f"the reply was not JSON nor a list ({one_line(text or '', 60)!r})")
    return candidates


def read_reply(text: str | None, read: Callable[[Any], T]) -> T:
    """`read` applied to the first reading of `text` it accepts (see `reply_candidates`).

    `read` raises ReplyError for a reading it cannot use; when none is usable, the error of
    the best reading is raised (for a reply with JSON, what was wrong with the JSON).
    """
    first: ReplyError | None = None
    for candidate in reply_candidates(text):
        try:
            return read(candidate)
        except ReplyError as error:
            first = first or error
    assert first is not None
    raise first


_LABEL = re.compile(r"^(.{1,80}?)\s*(?::|\s[-–—]\s)\s*(\S.*)$")


def split_label(text: str) -> tuple[str, str] | None:
    """`("color", "a red city")` from `"Color: a red city"` or `"Color - a red city"`."""
    match = _LABEL.match(text)
    return (match.group(1).strip(), match.group(2).strip()) if match else None


def same_words(a: str, b: str) -> bool:
    """Whether two labels name the same thing, ignoring case, quotes and a leading article."""

    def norm(text: str) -> str:
        text = clean_prompt(text).lower()
        return re.sub(r"^(?:a|an|the)\s+", "", text)

    return norm(a) == norm(b)


_ITEM_KEYS = ("prompt", "subject", "text", "description", "name", "variation", "idea")


def as_text(item: Any) -> str | None:
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


def list_in(data: Any, key: str) -> list[Any]:
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


def strings(items: Sequence[Any], what: str) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        text = as_text(item)
        if text is None:
            continue
        text = clean_prompt(text)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    if not out:
        raise ReplyError(f"the reply listed no {what}")
    return out
