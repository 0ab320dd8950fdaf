"""A model-free token count: words and punctuation marks.

Used for the ``usage`` of OpenAI-compatible answers when no tokenizer is loaded (the hash test
embedder); a Vietnamese syllable is one word, so it counts about as many tokens as a subword
tokenizer gives for plain Vietnamese text.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+|[^\w\s]")


class RegexTokenCounter:
    """Counts runs of letters/digits and each punctuation mark: ``"94,88%"`` is 4 tokens."""

    name = "regex"

    def count(self, text: str) -> int:
        return sum(1 for _ in _TOKEN.finditer(text))
