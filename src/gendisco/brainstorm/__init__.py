"""Prompt ideas from an LLM, or from a built-in videography vocabulary when there is none.

The chain follows Generative Disco: (1) the LLM lists concrete, visualisable subjects and
symbols for a goal (a song and artist, a lyric, a mood); (2) each subject becomes a
text-to-image prompt of at most ~20 words, written like alt text with visual modifiers.
For a start prompt it also proposes an end prompt per transition kind (color, time,
subject, style), or rewordings that keep the meaning (for holds).

Any OpenAI-compatible chat-completions server works (OpenAI, Ollama, vLLM, LM Studio).
Replies are asked for as JSON, in the prompt and with the server's JSON mode
(`response_format`) until a server refuses it, and read as a person would: JSON bare, in a
code fence or amid prose, or else a numbered or bulleted list or one item per line. The
API key is never printed: every message built from a server's answer is scrubbed of it
first.

    llm = connect(model="gpt-4o-mini")          # None without a key or base URL
    ideas = brainstorm_prompts("late-summer heartbreak pop song", llm=llm)
    print(ideas.to_yaml())

Modules, by job: `ideas` (what a brainstorm returns, as YAML), `replies` (reading what a
model answered), `llm` (talking to the server), `chains` (the questions asked, from
`prompts.yaml`), `offline` (the vocabulary in `vocabulary.yaml`), `sheet` (a contact sheet of
the ideas).
"""

from __future__ import annotations

from gendisco.brainstorm.chains import (
    brainstorm_prompts,
    brainstorm_transitions,
    brainstorm_variations,
)
from gendisco.brainstorm.ideas import MAX_WORDS, TRANSITION_KINDS, Idea, Ideas
from gendisco.brainstorm.llm import DEFAULT_LLM_MODEL, LLM, PLACEHOLDER_KEY, connect, scrub
from gendisco.brainstorm.offline import (
    VIDEOGRAPHY,
    OfflineWords,
    offline_prompts,
    offline_transitions,
    offline_variations,
    offline_words,
)
from gendisco.brainstorm.replies import (
    ReplyError,
    clean_prompt,
    limit_words,
    parse_json_reply,
    plain_items,
    reply_candidates,
    split_label,
)
from gendisco.brainstorm.sheet import check_sheet_path, render_sheet

__all__ = [
    "DEFAULT_LLM_MODEL",
    "LLM",
    "MAX_WORDS",
    "PLACEHOLDER_KEY",
    "VIDEOGRAPHY",
    "OfflineWords",
    "offline_words",
    "TRANSITION_KINDS",
    "Idea",
    "Ideas",
    "ReplyError",
    "brainstorm_prompts",
    "brainstorm_transitions",
    "brainstorm_variations",
    "check_sheet_path",
    "clean_prompt",
    "connect",
    "limit_words",
    "offline_prompts",
    "offline_transitions",
    "offline_variations",
    "parse_json_reply",
    "plain_items",
    "render_sheet",
    "reply_candidates",
    "scrub",
    "split_label",
]
