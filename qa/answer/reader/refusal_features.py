"""What the learned refusal looks at: numbers about one reading of the retrieved passages.

Each is available when the answer is chosen: the reader's scores for the best span and for the
other passages, where that span's passage ranked and how well retrieval scored it, how much of
the question the answer's sentence and passage hold, and whether other passages agree. BM25
scores are divided by the question's total idf so that they compare across corpora.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer.evidence import Evidence
from qa.core.types import AnswerSpan, Hit
from qa.text.matching import normalize_answer

NAMES = (
    "margin",
    "span_score",
    "null_score",
    "margin_gap",  # best margin minus the best margin of any other passage
    "max_margin",
    "positive_windows",  # share of windows whose best span beats their no-answer score
    "log_hit_rank",
    "relative_retrieval",  # the span's passage's fused score over the top one's
    "dense_top",
    "dense_span",
    "bm25_top",
    "bm25_span",
    "sentence_coverage",  # question words in the answer's sentence (passage words count half)
    "passage_coverage",
    "log_span_words",
    "span_novelty",  # share of the span's syllables the question does not contain
    "agreement",  # share of the other passages whose best span is the same answer
    "unknown_name",
)
_NO_OTHER = -20.0  # margin_gap's stand-in margin when only one passage was read


@dataclass(frozen=True)
class Reading:
    """One reading: every window's best span, the chosen one, and where it sits."""

    spans: Sequence[AnswerSpan]
    best: AnswerSpan
    hits: Sequence[Hit]
    passage_hits: Sequence[int]  # 0-based hit index of each passage read
    passages: Sequence[str]  # the text of each passage read
    sentence: str  # the sentence that holds the best span
    unknown_names: int


def features(reading: Reading, evidence: Evidence) -> dict[str, float]:
    """The refusal features of a reading, by ``NAMES``."""
    spans, best, hits = reading.spans, reading.best, reading.hits
    hit = hits[reading.passage_hits[best.passage]]
    top = hits[0]
    idf = float(evidence.weights.sum()) or 1.0
    others = [s.margin for s in spans if s.passage != best.passage]
    text = reading.passages[best.passage][best.start : best.end]
    answer = normalize_answer(text)
    by_passage: dict[int, AnswerSpan] = {}
    for s in spans:
        if s.passage != best.passage and (
            s.passage not in by_passage or s.margin > by_passage[s.passage].margin
        ):
            by_passage[s.passage] = s
    agree = [
        normalize_answer(reading.passages[p][s.start : s.end]) == answer
        for p, s in by_passage.items()
    ]
    values = {
        "margin": best.margin,
        "span_score": best.score,
        "null_score": best.null,
        "margin_gap": best.margin - max(others, default=_NO_OTHER),
        "max_margin": max(s.margin for s in spans),
        "positive_windows": sum(s.margin > 0 for s in spans) / len(spans),
        "log_hit_rank": math.log(hit.rank),
        "relative_retrieval": hit.score / top.score if top.score else 0.0,
        "dense_top": top.scores.get("dense", 0.0),
        "dense_span": hit.scores.get("dense", 0.0),
        "bm25_top": top.scores.get("bm25", 0.0) / idf,
        "bm25_span": hit.scores.get("bm25", 0.0) / idf,
        "sentence_coverage": evidence.coverage(reading.sentence, reading.passages[best.passage]),
        "passage_coverage": evidence.coverage(reading.passages[best.passage]),
        "log_span_words": math.log1p(len(answer.split())),
        "span_novelty": evidence.novelty(text),
        "agreement": sum(agree) / len(agree) if agree else 0.0,
        "unknown_name": float(reading.unknown_names > 0),
    }
    return {name: float(values[name]) for name in NAMES}
