"""Reading what a model answered: JSON in whatever wrapping it came, items as prompts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from gendisco.brainstorm.ideas import MAX_WORDS


class ReplyError(ValueError):
    """A reply that is not the JSON shape that was asked for."""


def one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    raise ReplyError(f"the reply was not JSON ({one_line(text, 60)!r})")


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
