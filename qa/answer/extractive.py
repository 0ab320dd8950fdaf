"""The default answerer: picks and trims the article sentences that answer, and cites them.

No model is involved beyond retrieval, so an answer takes milliseconds. Each sentence of the
retrieved passages is scored by keyword evidence (idf-weighted share of the question's terms it
contains) plus the passage's retrieval score. A sentence that only restates the question gives
way to the sentence after it, and a long sentence is trimmed to the clauses that answer.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from qa.answer import answer_types
from qa.answer.citations import CitationChecker, Claim
from qa.answer.evidence import Evidence, mentions
from qa.answer.refusal import decide, refusal
from qa.core.index_data import IndexData
from qa.core.types import Answer, Article, Hit
from qa.text.sentences import sentence_spans
from qa.text.vietnamese import capitalized_names, normalize

_WORD = re.compile(r"\w+(?:[.,/]\d+)*")
_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+[-–]\s+")
_LONG_SENTENCE_WORDS = 50
_CONTEXT_CLAUSES = 1
_RETRIEVAL_WEIGHT = 0.4
_ANSWER_TYPE_BONUS = 0.5
_NEAR_CHARS = 40
_RESTATES = 0.2  # a sentence with less novelty than this only restates the question


@dataclass(frozen=True)
class _Candidate:
    hit: int  # 1-based
    start: int
    end: int
    coverage: float
    score: float
    names_ok: bool  # the passage mentions every name in the question


@dataclass(frozen=True)
class _Span:
    """The cited sentence and, inside it, the part that answers."""

    hit: int
    start: int
    end: int
    answer_start: int
    answer_end: int


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, data: IndexData, *, max_sentences: int, refusal_threshold: float) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be positive, got {max_sentences}")
        self._data = data
        self.max_sentences = max_sentences
        self.refusal_threshold = refusal_threshold

    def evidence_score(self, question: str, hits: list[Hit]) -> tuple[float, list[str]]:
        """Best keyword evidence among the passages, and the question's names no passage knows."""
        evidence = Evidence(question, self._data)
        return self._evidence(self._candidates(question, evidence, hits)), evidence.unknown_names(
            question, [h.chunk.text for h in hits]
        )

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        """The best-supported sentences of the passages (all of ``hits``), or a refusal."""
        clock = time.perf_counter()
        evidence = Evidence(question, self._data)
        candidates = self._candidates(question, evidence, hits)
        unknown = evidence.unknown_names(question, [h.chunk.text for h in hits])
        decision = decide(self._evidence(candidates), unknown, self.refusal_threshold)
        if decision.refuse:
            return refusal(question, hits, self.name, [decision.note])

        ranked = sorted(candidates, key=lambda c: -c.score)
        best = ranked[0]
        chosen = [self._answering_span(evidence, best, hits)]
        # more sentences only when they are as well supported and nearly as good: best first
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < 0.9 * best.score:
                break
            if candidate.coverage < best.coverage:
                continue
            span = self._answering_span(evidence, candidate, hits)
            if all(not _overlaps(span, other, hits) for other in chosen):
                chosen.append(span)

        claims = []
        for span in chosen:
            text = self._data.articles[hits[span.hit - 1].chunk.article_id].text
            claims.append(
                Claim(
                    text=_sentence_case(text[span.answer_start : span.answer_end]),
                    cited=(span.hit,),
                    span=(span.hit, span.start, span.end),
                )
            )
        checked = CitationChecker(self._data).check(claims, hits)
        return checked.answer(question, hits, self.name, {"answer": time.perf_counter() - clock})

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        answer = self.answer(question, hits)
        yield answer.text
        yield answer

    def _candidates(self, question: str, evidence: Evidence, hits: list[Hit]) -> list[_Candidate]:
        top = max((h.score for h in hits), default=0.0) or 1.0
        names = capitalized_names(question)
        wanted = answer_types.expected(question)
        found = []
        for number, hit in enumerate(hits, start=1):
            article = self._data.articles[hit.chunk.article_id]
            text = article.text
            names_ok = all(self._mentions(article, n) for n in names)
            context = f"{article.title}\n{hit.chunk.text}"
            for start, end in sentence_spans(text, hit.chunk.start, hit.chunk.end):
                sentence = text[start:end]
                coverage = evidence.coverage(sentence, context)
                score = coverage + _RETRIEVAL_WEIGHT * max(hit.score, 0.0) / top
                score += _ANSWER_TYPE_BONUS * _nearby_evidence(evidence, wanted, sentence, question)
                if not names_ok:
                    score *= 0.5
                found.append(_Candidate(number, start, end, coverage, score, names_ok))
        return found

    def _mentions(self, article: Article, name: str) -> bool:
        """Whether the article names it, by the name itself or, for an acronym, its long form."""
        text = f"{article.title}\n{article.text}"  # folded once per article, then cached
        long_form = self._data.acronyms.get(normalize(name))
        return mentions(text, name) or (long_form is not None and mentions(text, long_form))

    def _evidence(self, candidates: list[_Candidate]) -> float:
        """Best coverage among passages that mention the question's names."""
        return max((c.coverage for c in candidates if c.names_ok), default=0.0)

    def _answering_span(self, evidence: Evidence, candidate: _Candidate, hits: list[Hit]) -> _Span:
        text = self._data.articles[hits[candidate.hit - 1].chunk.article_id].text
        start, end = candidate.start, candidate.end
        if evidence.novelty(text[start:end]) < _RESTATES:
            following = sentence_spans(text, end, min(len(text), end + 2000))
            if following:
                start, end = following[0]
        answer_start, answer_end = _trim(evidence, text, start, end)
        return _Span(candidate.hit, start, end, answer_start, answer_end)


def _trim(evidence: Evidence, text: str, start: int, end: int) -> tuple[int, int]:
    """A long sentence cut to its clause carrying the most of the question, with its neighbours.

    Clauses are split at commas, semicolons, colons and dashes. Measured on the dev benchmark,
    cutting to fewer words loses more answers than it makes answers tighter.
    """
    if len(_WORD.findall(text, start, end)) <= _LONG_SENTENCE_WORDS:
        return start, end
    bounds = [start, *(m.end() for m in _CLAUSE_BREAK.finditer(text, start, end)), end]
    clauses = [_strip_span(text, a, b) for a, b in itertools.pairwise(bounds)]
    clauses = [(a, b) for a, b in clauses if b > a]
    scores = [evidence.coverage(text[a:b]) for a, b in clauses]
    if not clauses or max(scores) <= 0:
        return start, end
    best = scores.index(max(scores))
    first, last = max(0, best - _CONTEXT_CLAUSES), min(len(clauses) - 1, best + _CONTEXT_CLAUSES)
    if evidence.novelty(text[clauses[first][0] : clauses[last][1]]) <= 0:
        return start, end  # the clauses only restate the question: keep the whole sentence
    return clauses[first][0], clauses[last][1]


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and text[b - 1] in " ,;:.-–":
        b -= 1
    return a, b


def _nearby_evidence(
    evidence: Evidence, wanted: answer_types.AnswerType, sentence: str, question: str
) -> float:
    """How much of the question stands right around a name or number of the kind it asks for
    ("Ai chủ trì ...?" is answered where a new name sits next to "chủ trì"); 0 when there is
    none, 1 when the question asks for no particular kind."""
    if wanted == "any":
        return 1.0
    best = 0.0
    for start, end in answer_types.offered(wanted, sentence, question):
        window = sentence[max(0, start - _NEAR_CHARS) : end + _NEAR_CHARS]
        best = max(best, evidence.coverage(window))
    return best


def _overlaps(a: _Span, b: _Span, hits: list[Hit]) -> bool:
    same_article = hits[a.hit - 1].chunk.article_id == hits[b.hit - 1].chunk.article_id
    return same_article and a.start < b.end and b.start < a.end
