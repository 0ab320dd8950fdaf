"""Sentence spans with exact character offsets (the text is never rewritten)."""

from __future__ import annotations

import re

# A sentence ends at . ! ? … (with any closing quotes or brackets) before whitespace and a
# word, or at a line break.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["“‘(\[]?\w)|\n""")
# Abbreviations and initials after which a period does not end a sentence.
_ABBREVIATION = re.compile(r"(?:\b(?:TP|Tp|ThS|TS|PGS|GS|BS|St|v\.v)|(?<!\w)\w)\.$")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text[start:end]``, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.group() != "\n" and _ABBREVIATION.search(text, cursor, match.end()):
            continue
        _append_trimmed(spans, text, cursor, match.end())
        cursor = match.end()
    _append_trimmed(spans, text, cursor, end)
    return spans


def _append_trimmed(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
