"""Turn a follow-up question into a standalone one, without a language model.

- "Còn ở Bắc Kạn thì sao?" after "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?" names a new place:
  the previous question is kept with its place replaced ("... ở Bắc Kạn là bao nhiêu?").
- Any other "Còn X thì sao?" keeps X and the previous question together.
- A question that points back ("Hội nghị đó ...", "Ông ấy ...") gets the previous question and
  the names in the previous answer added, so retrieval sees what "đó" and "ấy" stand for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.core.types import Turn
from qa.text.vietnamese import capitalized_names

_OPENER = r"(?:vậy còn|thế còn|còn về|còn|vậy thì|vậy|thế thì|thế)"
_CLOSER = r"(?:thì sao|thế nào|ra sao|nữa)"
_ELLIPTIC = re.compile(rf"^\s*{_OPENER}\s+(?P<rest>.*?)\s*(?:{_CLOSER})?\s*\??\s*$", re.IGNORECASE)
_ELLIPTIC_END = re.compile(rf"^\s*(?P<rest>.*?)\s+{_CLOSER}\s*\??\s*$", re.IGNORECASE)
_POINTS_BACK = re.compile(
    r"(?<!\w)(đó|này|ấy|trên|họ|nơi đây|vị này|người này)(?!\w)", re.IGNORECASE
)
_PLACE_MARKER = re.compile(
    r"(?<!\w)(?:ở|tại|tỉnh|huyện|xã|thành phố|thị xã|quận)\s+$", re.IGNORECASE
)
_LEADING_MARKER = re.compile(r"^(?:ở|tại|tỉnh|huyện|xã|thành phố|thị xã|quận)\s+", re.IGNORECASE)


def _elliptic_subject(question: str) -> str | None:
    for pattern in (_ELLIPTIC, _ELLIPTIC_END):
        match = pattern.match(question)
        if match and match.group("rest"):
            return match.group("rest").strip(" ?")
    return None


def _last_place(question: str) -> str | None:
    """The last capitalized name that follows 'ở', 'tại', 'tỉnh', ... in the question."""
    places = [
        name
        for name in capitalized_names(question)
        if _PLACE_MARKER.search(question[: question.find(name)])
    ]
    return places[-1] if places else None


def rewrite(question: str, history: Sequence[Turn]) -> str:
    """A standalone version of ``question`` given the earlier turns (most recent last)."""
    if not history:
        return question
    previous = history[-1]
    subject = _elliptic_subject(question)
    if subject is not None and len(subject.split()) <= 8:
        place = _LEADING_MARKER.sub("", subject)
        old = _last_place(previous.question)
        if old is not None and capitalized_names(f"x {place}") == [place]:
            return previous.question.replace(old, place)
        return f"{subject} – {previous.question}"
    if _POINTS_BACK.search(question):
        # names the previous answer gave ("Ông ấy" is the person it named), comma-separated so
        # that they stay separate names
        names = [
            n for n in capitalized_names(previous.answer) if " " in n and n not in previous.question
        ]
        extra = ", ".join([previous.question.rstrip(" ?"), *names[:3]])
        return f"{question.rstrip(' ?')}? ({extra})"
    return question
