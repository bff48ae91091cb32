"""Counted nouns for messages: "1 hold", "2 holds", "the project has one interval, 0"."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`3 clips`, `1 clip`, `0 clips`; `plural` for nouns that do not take an s."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def numbered(number: int, noun: str = "interval") -> str:
    """How many there are and their 0-based numbers, for "does not exist" messages."""
    if number == 1:
        return f"one {noun}, numbered 0"
    if number == 0:
        return f"no {noun}s"
    return f"{number} {noun}s, numbered 0 to {number - 1}"


def duration(seconds: float) -> str:
    """`45 s`, `3 min 20 s`, `1 h 05 min`: for estimates, without false precision."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def size(num_bytes: int) -> str:
    """`830 kB`, `12.4 MB`, `1.2 GB` (powers of 1000, as file managers show them)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if num_bytes >= scale:
            value = num_bytes / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{num_bytes} bytes"
