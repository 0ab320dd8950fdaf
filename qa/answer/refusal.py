"""When hoidap refuses, and what it says then: one place every answerer calls.

hoidap refuses when a name in the question appears in no article (the articles cannot be about
it), or when the best evidence is below the answerer's threshold: keyword evidence for the
extractive answerer, the trained reader's answer-over-no-answer margin for the reader. A
refusal says ``REFUSAL``, cites nothing, and keeps the passages so the closest ones can be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.core.types import Answer, Hit
from qa.text.language import looks_english
from qa.text.vietnamese import nfc

REFUSAL = "Không tìm thấy thông tin này trong các bài viết."
# said after the refusal when the question is in English, so that no refusal is silent about why
IN_VIETNAMESE = (
    "Các bài viết bằng tiếng Việt; hãy đặt câu hỏi bằng tiếng Việt. "
    "(The articles are in Vietnamese; please ask in Vietnamese.)"
)


@dataclass(frozen=True)
class Decision:
    """Whether to refuse, and the note that says why."""

    refuse: bool
    note: str = ""
    weak: bool = False  # refused for weak evidence (not for an unknown name)


def decide(
    evidence: float, unknown_names: Sequence[str], threshold: float, weak: str = "Bằng chứng yếu"
) -> Decision:
    """Refuse for a name no article knows, then for evidence below ``threshold``; ``weak``
    names the evidence in the note (keyword evidence, the reader's margin)."""
    if unknown_names:
        return Decision(True, f"Các bài viết không nhắc đến: {', '.join(unknown_names)}.")
    if evidence < threshold:
        return Decision(True, f"{weak} ({evidence:.2f} < {threshold:.2f}).", weak=True)
    return Decision(False)


def refusal(question: str, hits: list[Hit], answerer: str, notes: list[str]) -> Answer:
    """The refusal answer: ``REFUSAL``, no sentences, no citations, the passages kept; for an
    English question it also says that the articles are in Vietnamese."""
    return Answer(
        question=question,
        text=f"{REFUSAL} {IN_VIETNAMESE}" if looks_english(question) else REFUSAL,
        sentences=[],
        citations=[],
        refused=True,
        hits=hits,
        answerer=answerer,
        notes=notes,
    )


def says_refusal(sentence: str) -> bool:
    """Whether a sentence (a model's, say) is the refusal text."""
    return REFUSAL.casefold().rstrip(".") in nfc(sentence).casefold()
