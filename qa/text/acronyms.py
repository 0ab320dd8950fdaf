"""Acronyms such as DTTS, MTQG, UBND: learned from the corpus, plus the standard administrative
ones of ``acronyms.tsv`` (BHXH, THPT, GD&ĐT, NN&PTNT, UBND, ...).

A definition is a long form followed by its acronym in brackets: "dân tộc thiểu số (DTTS)",
"Chương trình mục tiêu quốc gia ... (Chương trình MTQG)". The long form is the nearest run of
words before the bracket whose initials spell the acronym ("&" may stand for "và").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from qa.text.vietnamese import fold, normalize

DATA_FILE = Path(__file__).with_name("acronyms.tsv")


def load_table(path: Path = DATA_FILE) -> dict[str, str]:
    """``{acronym: long form}`` (both normalized) of a tab-separated table; ``#`` comments."""
    table: dict[str, str] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        short, tab, long_form = line.partition("\t")
        if not tab or not short.strip() or not long_form.strip():
            raise ValueError(f"{path}:{number}: expected 'ACRONYM<TAB>long form', got {line!r}")
        table[normalize(short.strip())] = normalize(long_form.strip())
    return table


# Standard Vietnamese administrative acronyms, so they work before any corpus defines them.
COMMON: dict[str, str] = load_table()

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
