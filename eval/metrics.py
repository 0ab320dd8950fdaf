"""Metric functions: pure, over plain values, so each can be checked by hand.

Ranked retrieval is scored on *gains*: one boolean per retrieved hit, true at the first hit of
each relevant item (a gold article, or "the answer" when only answer strings are known), so a
second chunk of an article already found earns nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qa.text.matching import contains_any
from qa.text.matching import exact_match as exact_match
from qa.text.matching import normalize_answer as normalize_answer
from qa.text.matching import token_f1 as token_f1


def answer_contained(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when a (non-empty) gold answer occurs in the prediction."""
    return float(contains_any(prediction, golds))


def first_occurrences(items: Sequence[str | None]) -> list[bool]:
    """Gains of a ranked list of relevant item keys (``None``: not relevant)."""
    seen: set[str] = set()
    gains = []
    for item in items:
        gains.append(item is not None and item not in seen)
        if item is not None:
            seen.add(item)
    return gains


def recall_at_k(gains: Sequence[bool], relevant: int, k: int) -> float:
    """Share of the ``relevant`` items found in the top ``k`` hits."""
    return sum(gains[:k]) / relevant if relevant else 0.0


def reciprocal_rank(gains: Sequence[bool], k: int) -> float:
    return next((1.0 / rank for rank, g in enumerate(gains[:k], start=1) if g), 0.0)


def ndcg_at_k(gains: Sequence[bool], relevant: int, k: int) -> float:
    """Binary-relevance nDCG; the ideal list puts all ``relevant`` items first."""
    dcg = sum(1.0 / math.log2(rank + 1) for rank, g in enumerate(gains[:k], start=1) if g)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(relevant, k) + 1))
    return dcg / ideal if ideal else 0.0


def spans_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two half-open character spans share at least one character."""
    return max(a[0], b[0]) < min(a[1], b[1])


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def refusal_scores(
    refused: Sequence[bool], unanswerable: Sequence[bool]
) -> tuple[float | None, float | None]:
    """(precision, recall) of refusals as detectors of unanswerable questions."""
    both = sum(r and u for r, u in zip(refused, unanswerable, strict=True))
    return ratio(both, sum(refused)), ratio(both, sum(unanswerable))


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values; ``None`` when there are none."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (NumPy's default), ``q`` in 0..100."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
