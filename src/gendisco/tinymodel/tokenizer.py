"""A CLIP tokenizer whose vocabulary is the `tiny` model's words.

Every byte stays in the vocabulary, so any prompt encodes (unknown words fall apart into
pieces); each known word gets BPE merges that build it left to right, so it becomes one
token that the small text encoder can learn as a unit.
"""

from __future__ import annotations

import json
from pathlib import Path

from gendisco.tinymodel.vocabulary import known_words


def write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """Write vocab.json and merges.txt for `CLIPTokenizer` into `folder`."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [f"{symbol}</w>" for symbol in symbols]
    ranks: dict[tuple[str, str], int] = {}
    # Merges that build each word left to right; where another word's merges split it
    # differently, one more merge joins the first two pieces, until every word is one token.
    for word in known_words():
        pieces = _split(word)
        for i in range(1, len(pieces)):
            ranks.setdefault(("".join(pieces[:i]), pieces[i]), len(ranks))
    for _ in range(50):
        split = [_bpe(word, ranks) for word in known_words()]
        unfinished = [pieces for pieces in split if len(pieces) > 1]
        if not unfinished:
            break
        for pieces in unfinished:
            ranks.setdefault((pieces[0], pieces[1]), len(ranks))
    merges = [f"{a} {b}" for (a, b), _ in sorted(ranks.items(), key=lambda item: item[1])]
    seen = set(tokens)
    for a, b in ranks:
        if a + b not in seen:
            seen.add(a + b)
            tokens.append(a + b)
    vocab = {token: i for i, token in enumerate(tokens)}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = folder / "vocab.json", folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab_path, merges_path


_NEVER = 1 << 30


def _split(word: str) -> list[str]:
    return list(word[:-1]) + [word[-1] + "</w>"]


def _bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """CLIPTokenizer's BPE on one word: merge the best-ranked adjacent pair until none is left."""
    pieces = _split(word)
    while len(pieces) > 1:
        pairs = list(zip(pieces, pieces[1:], strict=False))
        rank, first, second = min((ranks.get(pair, _NEVER), *pair) for pair in pairs)
        if rank == _NEVER:
            break
        merged: list[str] = []
        i = 0
        while i < len(pieces):
            if i + 1 < len(pieces) and pieces[i] == first and pieces[i + 1] == second:
                merged.append(first + second)
                i += 2
            else:
                merged.append(pieces[i])
                i += 1
        pieces = merged
    return pieces
