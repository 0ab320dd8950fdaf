"""Acronyms such as DTTS, MTQG, UBND: learned from the corpus, plus common administrative ones.

A definition is a long form followed by its acronym in brackets: "dân tộc thiểu số (DTTS)",
"Chương trình mục tiêu quốc gia ... (Chương trình MTQG)". The long form is the nearest run of
words before the bracket whose initials spell the acronym ("&" may stand for "và").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.text.vietnamese import fold, normalize

# Standard Vietnamese administrative acronyms, so they work before any corpus defines them.
COMMON: dict[str, str] = {
    "ubnd": "ủy ban nhân dân",
    "hđnd": "hội đồng nhân dân",
    "dtts": "dân tộc thiểu số",
    "mtqg": "mục tiêu quốc gia",
    "ubdt": "ủy ban dân tộc",
    "bdt": "ban dân tộc",
    "ubmttq": "ủy ban mặt trận tổ quốc",
    "mttq": "mặt trận tổ quốc",
    "kt-xh": "kinh tế - xã hội",
    "ktxh": "kinh tế xã hội",
    "qđ-ttg": "quyết định thủ tướng",
    "tw": "trung ương",
    "tp": "thành phố",
    "dtts&mn": "dân tộc thiểu số và miền núi",
}

_DEFINITION = re.compile(r"\(([^()]{2,60})\)")
_ACRONYM = re.compile(r"\b[A-ZĐ][A-ZĐ&-]*[A-ZĐ]\b")
_MAX_LOOKBACK = 25


def _initial(word: str) -> str:
    return fold(word[0]) if word else ""


def _long_form(before: list[str], acronym: str) -> str | None:
    letters = [fold(c) for c in acronym if c.isalpha() or c == "&"]
    words = [w for w in before if w[:1].isalpha()][-_MAX_LOOKBACK:]
    # Try windows ending nearest the bracket first.
    for end in range(len(words), 0, -1):
        matched: list[str] = []
        li = len(letters) - 1
        wi = end - 1
        while li >= 0 and wi >= 0:
            word = words[wi]
            if letters[li] == "&" and normalize(word) == "và":
                matched.append(word)
                li -= 1
                wi -= 1
            elif letters[li] == "&":
                li -= 1
            elif _initial(word) == letters[li]:
                matched.append(word)
                li -= 1
                wi -= 1
            else:
                break
        if li < 0 and len(matched) >= 2:
            return normalize(" ".join(reversed(matched)))
    return None


def learn(texts: Iterable[str]) -> dict[str, str]:
    """``{acronym (normalized): long form (normalized)}`` defined in the texts."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _DEFINITION.finditer(text):
            before = text[max(0, match.start() - 400) : match.start()].split()
            for acronym in _ACRONYM.findall(match.group(1)):
                if len(acronym) < 2 or len(acronym) > 12:
                    continue
                long_form = _long_form(before, acronym)
                if long_form:
                    found.setdefault(normalize(acronym), long_form)
    return found


def merged(learned: dict[str, str]) -> dict[str, str]:
    """Common acronyms overridden by what the corpus itself defines."""
    return {**COMMON, **learned}
