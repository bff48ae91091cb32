"""Prompts longer than the text encoder reads are named, not silently cut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import CLIPTokenizer

from gendisco.prompt_length import certainly_cut, cut_off, least_tokens
from gendisco.tinymodel import WEIGHTS

LONG = ", ".join(["a neon city skyline at night"] * 12) + ", oil painting"  # 12 x 7 + 2 pieces


@pytest.fixture(scope="module")
def tokenizer() -> CLIPTokenizer:
    """A real CLIP tokenizer (the built-in model's: same splitting, a smaller vocabulary)."""
    return CLIPTokenizer.from_pretrained(str(WEIGHTS / "tokenizer"))


# where CLIP's splitting has its corners: contractions, digits, punctuation runs with
# underscores, combining accents, numerals that are not digits; and anything else
CORNERS = st.sampled_from(list("ast'dmlrve 9_-,.!") + ["\u0301", "\u00bd", "\u00e9", "\t"])
TEXT = st.text(alphabet=st.one_of(CORNERS, st.characters(codec="utf-8")), max_size=60)


def clip_pieces(tokenizer: CLIPTokenizer, text: str) -> int:
    """How many pieces CLIP's own normaliser and pre-tokeniser cut `text` into: each is one
    token or more in any CLIP vocabulary."""
    backend = tokenizer.backend_tokenizer
    return len(backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text)))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_the_bound_never_exceeds_the_pieces_clip_cuts_a_prompt_into(tokenizer, text):
    assert least_tokens(text) <= clip_pieces(tokenizer, text)


def test_words_digits_contractions_and_punctuation_are_counted():
    assert least_tokens("a cat") == 2
    assert least_tokens("it's 8k, ultra-detailed!!") == 9  # it 's 8 k , ultra - detailed !!


def test_a_prompt_past_75_tokens_is_named_with_what_is_lost():
    assert least_tokens(LONG) == 86
    (warning,) = certainly_cut([("intervals.0 start prompt", LONG)])
    assert warning.startswith(
        "intervals.0 start prompt: at least 86 tokens, and the model reads 75"
    )
    assert warning.endswith(
        "'night, a neon city skyline at night, oil painting' is cut off "
        "(put what matters first, or shorten it)"
    )
    assert certainly_cut([("x", ", ".join(["a neon city skyline at night"] * 9))]) == []


def test_the_tokenizer_count_is_exact_and_names_the_words_it_drops(tokenizer):
    tokens, lost = cut_off(tokenizer, LONG)
    assert tokens == len(tokenizer(LONG, add_special_tokens=False, verbose=False).input_ids)
    assert tokens > 75 and lost.endswith("oil painting")
    assert cut_off(tokenizer, "the sun at noon, red") is None
