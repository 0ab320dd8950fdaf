"""Matching an answer against gold answers: SQuAD-style normalization, exact match, token F1.

Shared by the eval harness and the reader's validation, so both score alike.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from qa.text.vietnamese import normalize

_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalize_answer(text: str) -> str:
    """NFC, lower case, new-style tone marks, no punctuation, single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", normalize(text)).split())


def contains_any(text: str, needles: Sequence[str]) -> bool:
    """Whether a needle occurs in ``text`` as whole words, after normalization."""
    haystack = f" {normalize_answer(text)} "
    return any((norm := normalize_answer(needle)) and f" {norm} " in haystack for needle in needles)


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the prediction equals a gold answer after normalization.

    As in SQuAD 2.0, no gold answers means the empty answer is the gold one."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds or [""]))


def _f1(prediction: list[str], gold: list[str]) -> float:
    if not prediction or not gold:
        return float(prediction == gold)
    same = sum((Counter(prediction) & Counter(gold)).values())
    if not same:
        return 0.0
    precision, recall = same / len(prediction), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 after normalization, the best over the gold answers."""
    pred = normalize_answer(prediction).split()
    return max(_f1(pred, normalize_answer(g).split()) for g in golds or [""])
