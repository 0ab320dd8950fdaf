"""What kind of answer a question asks for, and whether a sentence offers one.

"Ai ..." wants a name, "bao nhiêu ..." a number, "khi nào ..." a date, "ở đâu ..." a place. A
sentence offers one when it holds a name (two capitalized words or more) or a number the question
does not already contain.
"""

from __future__ import annotations

import re
from typing import Literal

from qa.text.vietnamese import capitalized_names, fold

AnswerType = Literal["name", "number", "any"]

# Matched on folded text, so questions typed without diacritics work too.
_CUES: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (
        "number",
        re.compile(
            r"\b(bao nhieu|may|ty le|so luong|bao gio|khi nao|luc nao|"
            r"(ngay|thang|nam|quy) (nao|may))\b"
        ),
    ),
    (
        "name",
        re.compile(
            r"(^|\s)(ai|nguoi nao|ong nao|ba nao|dong chi nao|o dau|tai dau|"
            r"noi nao|tinh nao|huyen nao|xa nao|dia phuong nao|co quan nao|"
            r"don vi nao|to chuc nao|(quyet dinh|nghi quyet|thong tu|chi thi|"
            r"ket luan|chuong trinh|de an|du an) (nao|so may|gi))\b"
        ),
    ),
)
_NUMBER = re.compile(r"\d+")


def expected(question: str) -> AnswerType:
    folded = fold(question)
    for kind, cue in _CUES:
        if cue.search(folded):
            return kind
    return "any"


def offered(kind: AnswerType, sentence: str, question: str) -> list[tuple[int, int]]:
    """Spans of the names or numbers of the wanted kind that the question does not contain."""
    if kind == "number":
        asked_numbers = set(_NUMBER.findall(question))
        return [m.span() for m in _NUMBER.finditer(sentence) if m.group() not in asked_numbers]
    if kind == "any":
        return []
    asked = fold(question)
    # a name is two words or more ("Kiên Ninh", "Tam Đảo"): one capitalized word is as often
    # the start of a term ("Kế hoạch") as a name
    spans = []
    for name in capitalized_names(sentence):
        if " " in name and fold(name) not in asked:
            start = sentence.find(name)
            spans.append((start, start + len(name)))
    return spans
