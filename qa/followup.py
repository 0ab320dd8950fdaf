"""Turn a follow-up question into a standalone one, without a language model.

"Còn ở Bắc Kạn thì sao?" after "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?" becomes
"Tỷ lệ người DTTS ở Bắc Kạn là bao nhiêu?": the previous question is kept and its last name is
replaced by the new one. A follow-up that names nothing new ("Ai chủ trì hội nghị đó?") gets
the previous question's names appended.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.types import Turn
from qa.vietnamese import capitalized_names, normalize

_FOLLOWUP_START = re.compile(r"^(còn|vậy còn|thế còn|vậy|thế|và|còn về|thế thì)\b", re.IGNORECASE)
_FOLLOWUP_END = re.compile(r"(thì sao|thế nào|ra sao|nữa)\s*\??\s*$", re.IGNORECASE)
_REFERENCE = re.compile(r"\b(đó|này|ấy|trên|họ|nơi đây|ở đó|tỉnh đó|hội nghị đó)\b", re.IGNORECASE)
_FILLER = re.compile(
    r"^(còn|vậy còn|thế còn|vậy|thế|và|còn về|thế thì)\s+|(\s*(thì sao|thế nào|ra sao|nữa))?\s*\??\s*$",
    re.IGNORECASE,
)


def is_followup(question: str) -> bool:
    q = normalize(question.strip())
    return bool(_FOLLOWUP_START.search(q) or _FOLLOWUP_END.search(q) or _REFERENCE.search(q))


def rewrite(question: str, history: Sequence[Turn]) -> str:
    """A standalone version of ``question`` given the earlier turns (most recent last)."""
    if not history or not is_followup(question):
        return question
    previous = history[-1].question
    new_names = capitalized_names(question)
    old_names = capitalized_names(previous)
    if new_names and old_names and len(question.split()) <= 8:
        old = old_names[-1]
        idx = previous.rfind(old)
        return previous[:idx] + new_names[-1] + previous[idx + len(old) :]
    if new_names and len(question.split()) <= 6:
        remainder = _FILLER.sub("", question).strip()
        return f"{previous.rstrip(' ?')} – {remainder}?"
    extra = [n for n in old_names if n not in question]
    return f"{question.rstrip(' ?')} ({', '.join(extra)})?" if extra else f"{question} {previous}"
