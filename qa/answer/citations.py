"""Citation checks shared by every answerer.

An answer is a list of claims (sentences) citing passages by number ``[n]`` (1-based positions
in the retrieved hits). Each claim is checked against the passage it cites: its numbers must
occur there and enough of its content words (idf-weighted) must be supported. The exact
supporting sentence becomes the citation's quote. A claim whose numbers occur only in another
passage is re-pointed there; a claim nothing supports is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.evidence import Evidence, numbers
from qa.core.index_data import IndexData
from qa.core.types import Answer, AnswerSentence, Citation, Hit
from qa.text.sentences import sentence_spans

_MIN_CLAIM_WORDS = 2
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class Claim:
    text: str
    cited: tuple[int, ...]
    # (hit number, start, end) when the answerer already knows the exact quote
    span: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Checked:
    sentences: list[AnswerSentence]
    citations: list[Citation]
    notes: list[str]

    @property
    def text(self) -> str:
        parts = []
        for sentence in self.sentences:
            marks = "".join(f"[{n}]" for n in sentence.citations)
            parts.append(f"{sentence.text} {marks}".strip())
        return " ".join(parts)

    @property
    def grounded(self) -> bool:
        return any(s.supported for s in self.sentences)

    def answer(
        self, question: str, hits: list[Hit], answerer: str, timings: dict[str, float]
    ) -> Answer:
        return Answer(
            question=question,
            text=self.text,
            sentences=self.sentences,
            citations=self.citations,
            refused=False,
            hits=hits,
            answerer=answerer,
            timings=timings,
            notes=self.notes,
        )


def parse_claims(answer: str) -> list[Claim]:
    """Split an answer into sentences and read the ``[n]`` markers of each."""
    claims = []
    for start, end in sentence_spans(answer):
        sentence = answer[start:end]
        cited = tuple(
            int(n) for group in _MARKER.findall(sentence) for n in re.split(r"\s*,\s*", group)
        )
        text = _MARKER.sub("", sentence).strip()
        if text.strip(" .") or cited:
            claims.append(Claim(text=text, cited=cited))
    # a marker standing alone after the last sentence belongs to it
    merged: list[Claim] = []
    for claim in claims:
        if not claim.text.strip(" .") and merged:
            merged[-1] = Claim(merged[-1].text, merged[-1].cited + claim.cited)
        elif claim.text.strip(" ."):
            merged.append(claim)
    return merged


@dataclass(frozen=True)
class _Support:
    hit: int  # 1-based
    start: int
    end: int
    score: float
    numbers_ok: bool


class CitationChecker:
    def __init__(self, data: IndexData, min_support: float = 0.5) -> None:
        self._data = data
        self.min_support = min_support

    def check(self, claims: list[Claim], hits: list[Hit]) -> Checked:
        notes: list[str] = []
        sentences: list[AnswerSentence] = []
        citations: dict[tuple[str, int, int], Citation] = {}
        for claim in claims:
            valid = tuple(n for n in dict.fromkeys(claim.cited) if 1 <= n <= len(hits))
            for n in claim.cited:
                if n not in valid:
                    notes.append(f"Bỏ trích dẫn [{n}]: không có đoạn văn số {n}.")
            support = self._supporting(claim, valid, hits, notes)
            numbers_for_claim: tuple[int, ...] = ()
            if support is not None:
                hit = hits[support.hit - 1]
                article = self._data.articles[hit.chunk.article_id]
                key = (article.id, support.start, support.end)
                if key not in citations:
                    citations[key] = Citation(
                        number=len(citations) + 1,
                        article_id=article.id,
                        title=article.title,
                        date=article.date,
                        start=support.start,
                        end=support.end,
                        quote=article.text[support.start : support.end],
                        chunk_id=hit.chunk.id,
                    )
                numbers_for_claim = (citations[key].number,)
            supported = (
                support is not None and support.numbers_ok and support.score >= self.min_support
            )
            if not supported:
                notes.append(f"Câu không được đoạn trích dẫn hỗ trợ: {claim.text[:80]}")
            sentences.append(
                AnswerSentence(
                    text=claim.text,
                    citations=numbers_for_claim,
                    support=round(support.score, 4) if support else 0.0,
                    supported=supported,
                )
            )
        return Checked(sentences, list(citations.values()), notes)

    def _supporting(
        self, claim: Claim, cited: tuple[int, ...], hits: list[Hit], notes: list[str]
    ) -> _Support | None:
        if claim.span is not None:
            hit_no, start, end = claim.span
            text = self._data.articles[hits[hit_no - 1].chunk.article_id].text[start:end]
            if claim.text.strip(" .").lower() in text.lower():
                return _Support(hit_no, start, end, 1.0, True)
        evidence = Evidence(claim.text, self._data)
        if len(evidence.words) < _MIN_CLAIM_WORDS:
            return None  # a fragment ("Hội") is supported by any passage that has the word
        wanted = numbers(claim.text)
        best_cited = self._best(evidence, wanted, cited, hits)
        if (
            best_cited is not None
            and best_cited.numbers_ok
            and best_cited.score >= self.min_support
        ):
            return best_cited
        others = tuple(n for n in range(1, len(hits) + 1) if n not in cited)
        best_other = self._best(evidence, wanted, others, hits)
        if (
            best_other is not None
            and best_other.numbers_ok
            and best_other.score >= self.min_support
            and (
                best_cited is None
                or not best_cited.numbers_ok
                or best_other.score > best_cited.score
            )
        ):
            if cited:
                notes.append(
                    f"Trích dẫn [{cited[0]}] được chuyển sang đoạn {best_other.hit}, nơi có thông tin này."
                )
            return best_other
        return best_cited

    def _best(
        self, evidence: Evidence, wanted: set[str], candidates: tuple[int, ...], hits: list[Hit]
    ) -> _Support | None:
        best: _Support | None = None
        for n in candidates:
            chunk = hits[n - 1].chunk
            text = self._data.articles[chunk.article_id].text
            for start, end in sentence_spans(text, chunk.start, chunk.end):
                quote = text[start:end]
                candidate = _Support(
                    n, start, end, evidence.coverage(quote), wanted <= numbers(quote)
                )
                if best is None or (candidate.numbers_ok, candidate.score) > (
                    best.numbers_ok,
                    best.score,
                ):
                    best = candidate
        return best
