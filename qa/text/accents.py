"""Diacritics for a question typed without them, taken from the passages it is asked about.

Retrieval matches an unaccented question on folded terms already; a reader, though, was trained
on accented text. Each run of the question's syllables (longest first, up to three) that occurs
folded in the passages takes the accented form it has there most often; the rest stays as typed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from qa.text.vietnamese import fold, has_diacritics

_SYLLABLE = re.compile(r"\w+")
_LONGEST = 3
# question and function words, for when the passages do not have them (ordinary Vietnamese)
_COMMON = {
    "la": "là", "co": "có", "o": "ở", "cua": "của", "duoc": "được", "nhung": "những",
    "gi": "gì", "nao": "nào", "dau": "đâu", "bao nhieu": "bao nhiêu", "bao gio": "bao giờ",
    "khi nao": "khi nào", "the nao": "thế nào", "nhu the nao": "như thế nào",
    "tai sao": "tại sao", "vi sao": "vì sao", "ngay nao": "ngày nào", "nam nao": "năm nào",
    "thang nao": "tháng nào", "o dau": "ở đâu", "la ai": "là ai", "la gi": "là gì",
}  # fmt: skip


def restore(question: str, passages: Sequence[str]) -> str:
    """``question`` with diacritics from ``passages`` when it has none; else unchanged."""
    if has_diacritics(question):
        return question
    forms: dict[tuple[str, ...], Counter[tuple[str, ...]]] = {}
    for passage in passages:
        words = [w.lower() for w in _SYLLABLE.findall(passage)]
        keys = [fold(w) for w in words]
        for n in range(1, _LONGEST + 1):
            for i in range(len(words) - n + 1):
                forms.setdefault(tuple(keys[i : i + n]), Counter())[tuple(words[i : i + n])] += 1
    for typed, accented in _COMMON.items():
        forms.setdefault(tuple(typed.split()), Counter({tuple(accented.split()): 1}))
    matches = list(_SYLLABLE.finditer(question))
    out, cursor, i = [], 0, 0
    while i < len(matches):
        for n in range(min(_LONGEST, len(matches) - i), 0, -1):
            key = tuple(fold(m.group()) for m in matches[i : i + n])
            if key in forms:
                break
        else:
            i += 1
            continue
        accented = forms[key].most_common(1)[0][0]
        for m, word in zip(matches[i : i + n], accented, strict=True):
            typed = m.group()
            out.append(question[cursor : m.start()])
            out.append(typed if typed.isupper() and len(typed) > 1 else _like(typed, word))
            cursor = m.end()
        i += n
    out.append(question[cursor:])
    return "".join(out)


def _like(typed: str, word: str) -> str:
    """``word`` with the capital first letter ``typed`` has."""
    return word[:1].upper() + word[1:] if typed[:1].isupper() else word
