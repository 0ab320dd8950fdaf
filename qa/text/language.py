"""Telling an English question from a Vietnamese one (typed with or without diacritics)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")
_ENGLISH = frozenset(
    [
        "the",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "when",
        "where",
        "why",
        "is",
        "are",
        "was",
        "were",
        "does",
        "did",
        "do",
        "many",
        "much",
        "of",
        "for",
        "about",
        "please",
        "tell",
        "me",
        "there",
        "their",
        "this",
        "that",
        "these",
        "those",
    ]
)


def looks_english(text: str) -> bool:
    """At least two English function words and no Vietnamese letter with a diacritic."""
    words = [w.lower() for w in _WORD.findall(text)]
    if any(not w.isascii() for w in words):
        return False
    return sum(w in _ENGLISH for w in words) >= 2
