"""The default answerer: a trained reader finds the short answer in the retrieved passages; the
sentence that holds it is the cited claim.

Every retrieved passage is read (passages of one article that overlap are read once, in
overlapping windows when longer than the reader's window); the span with the highest margin
(span score minus its window's no-answer score) plus ``retrieval_weight`` times its passage's
retrieval score (relative to the best passage's) wins. The learned refusal
(``refusal_model``, the default) decides from the reading's features whether to refuse; with
``HOIDAP_READER_REFUSAL=margin`` hoidap refuses when a name in the question appears in no article
or the margin is below the threshold calibrated with the weights.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from qa.answer.citations import CitationChecker, Claim
from qa.answer.evidence import Evidence
from qa.answer.reader import refusal_features
from qa.answer.reader.refusal_model import RefusalModel
from qa.answer.refusal import Decision, decide, refusal
from qa.core.index_data import IndexData
from qa.core.protocols import SpanReader
from qa.core.types import Answer, AnswerSpan, Hit, ShortAnswer
from qa.text.accents import restore
from qa.text.sentences import sentence_spans

_EDGE = " \t\n,;:.-–—\"'“”‘’()[]"
_WEAK = "Bộ đọc không thấy câu trả lời"
_WEAK_LEARNED = "Xác suất có câu trả lời thấp"


@dataclass(frozen=True)
class _Passage:
    hit: int  # 1-based hit number the citation points to
    article_id: str
    start: int  # article offsets of the text read
    end: int


class ReaderAnswerer:
    name = "reader"

    def __init__(
        self,
        data: IndexData,
        reader: SpanReader,
        *,
        threshold: float,
        retrieval_weight: float,
        refusal: RefusalModel | None,
    ) -> None:
        """``refusal``: the learned refusal; ``None`` refuses on the margin ``threshold``."""
        self._data = data
        self._reader = reader
        self.threshold = threshold
        self.retrieval_weight = retrieval_weight
        self.refusal = refusal

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        clock = time.perf_counter()
        evidence = Evidence(question, self._data)
        unknown = evidence.unknown_names(question, [h.chunk.text for h in hits])
        # the learned refusal weighs an unknown name with the rest; the margin cannot
        if (unknown and self.refusal is None) or not hits:
            note = (
                decide(0.0, unknown, self.threshold).note if unknown else "Không có đoạn văn nào."
            )
            return refusal(question, hits, self.name, [note])
        read = self._read(question, hits, len(unknown))
        timings = {"reader": time.perf_counter() - clock}
        decision = self._decide(read, evidence)
        if read is None or decision.refuse:
            return replace(refusal(question, hits, self.name, [decision.note]), timings=timings)
        best, passage, text = read.reading.best, read.passage, read.text
        a, b = read.span
        s0, s1 = read.sentence
        hit = _hit_for(hits, passage, s0, s1)
        claim = Claim(text=_sentence_case(text[s0:s1]), cited=(hit,), span=(hit, s0, s1))
        answer = (
            CitationChecker(self._data)
            .check([claim], hits)
            .answer(question, hits, self.name, timings)
        )
        number = answer.sentences[0].citations[0] if answer.sentences[0].citations else 0
        answer.short = ShortAnswer(
            text=text[a:b], citation=number, start=a, end=b, score=round(best.margin, 4)
        )
        return answer

    def features(self, question: str, hits: list[Hit]) -> dict[str, float] | None:
        """The learned refusal's features for these passages (``None``: nothing was read);
        what ``qa reader train-refusal`` fits on."""
        if not hits:
            return None
        evidence = Evidence(question, self._data)
        unknown = evidence.unknown_names(question, [h.chunk.text for h in hits])
        read = self._read(question, hits, len(unknown))
        return None if read is None else refusal_features.features(read.reading, evidence)

    def _decide(self, read: _Read | None, evidence: Evidence) -> Decision:
        if read is None:
            return decide(float("-inf"), [], self.threshold, weak=_WEAK)
        if self.refusal is None:
            return decide(read.reading.best.margin, [], self.threshold, weak=_WEAK)
        _, p = self.refusal.refuses(refusal_features.features(read.reading, evidence))
        return decide(p, [], self.refusal.threshold, weak=_WEAK_LEARNED)

    def _read(self, question: str, hits: list[Hit], unknown_names: int) -> _Read | None:
        """Read every passage; the best span (margin plus weighted retrieval score) and its
        sentence, or ``None`` when the reader found no span."""
        read = _merge(hits)
        texts = [self._data.articles[p.article_id].text for p in read]
        passages = [t[p.start : p.end] for t, p in zip(texts, read, strict=True)]
        spans = self._reader.read(
            restore(question, passages),  # the reader was trained on accented questions
            passages,
            [
                [s - p.start for s, _ in sentence_spans(t, p.start, p.end)]
                for t, p in zip(texts, read, strict=True)
            ],
        )
        top = max(h.score for h in hits) or 1.0
        weight = self.retrieval_weight / top

        def rank(span: AnswerSpan) -> float:
            return span.margin + weight * hits[read[span.passage].hit - 1].score

        best = max(spans, key=rank, default=None)
        if best is None:
            return None
        passage, text = read[best.passage], texts[best.passage]
        a, b = _strip(text, passage.start + best.start, passage.start + best.end)
        s0, s1 = _sentence_around(text, a, b, passage)
        reading = refusal_features.Reading(
            spans=spans,
            best=best,
            hits=hits,
            passage_hits=[p.hit - 1 for p in read],
            passages=passages,
            sentence=text[s0:s1],
            unknown_names=unknown_names,
        )
        return _Read(reading, passage, text, (a, b), (s0, s1))

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        answer = self.answer(question, hits)
        yield answer.text
        yield answer


@dataclass(frozen=True)
class _Read:
    reading: refusal_features.Reading
    passage: _Passage  # the passage of the best span
    text: str  # its article's text
    span: tuple[int, int]  # the short answer, article offsets
    sentence: tuple[int, int]  # the sentence around it, article offsets


def _merge(hits: Sequence[Hit]) -> list[_Passage]:
    """The text to read: passages of one article that overlap or touch are read once."""
    merged: list[_Passage] = []
    for number, hit in enumerate(hits, start=1):
        c = hit.chunk
        for k, p in enumerate(merged):
            if p.article_id == c.article_id and c.start <= p.end and p.start <= c.end:
                merged[k] = replace(p, start=min(p.start, c.start), end=max(p.end, c.end))
                break
        else:
            merged.append(_Passage(number, c.article_id, c.start, c.end))
    return merged


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in _EDGE:
        a += 1
    while b > a and text[b - 1] in _EDGE:
        b -= 1
    return a, b


def _sentence_around(text: str, a: int, b: int, passage: _Passage) -> tuple[int, int]:
    """The sentence (or run of sentences) of the passage that holds ``text[a:b]``."""
    inside = [
        (s, e) for s, e in sentence_spans(text, passage.start, passage.end) if s < b and a < e
    ]
    if not inside:
        return a, b
    return inside[0][0], inside[-1][1]


def _hit_for(hits: Sequence[Hit], passage: _Passage, start: int, end: int) -> int:
    """The hit whose chunk holds the sentence (a merged passage spans several hits)."""
    for number, hit in enumerate(hits, start=1):
        c = hit.chunk
        if c.article_id == passage.article_id and c.start <= start and end <= c.end:
            return number
    return passage.hit


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]
