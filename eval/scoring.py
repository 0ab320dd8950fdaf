"""Judge one question: what was retrieved and answered, each metric, and what went wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eval import metrics
from eval.eval_set import EvalQuestion
from qa.core.types import Answer, Article, Hit

RANKS = (1, 5, 10)
# Problem codes, in the order the report lists them, with their labels for readers.
PROBLEMS = {
    "error": "Lỗi khi chạy",
    "missed_retrieval": "Không tìm được đoạn đúng",
    "wrong_answer": "Trả lời sai",
    "unsupported_citation": "Trích dẫn không khớp",
    "false_refusal": "Từ chối nhầm",
    "missed_refusal": "Lẽ ra phải từ chối",
}


@dataclass(frozen=True)
class HitRow:
    rank: int
    article_id: str
    start: int
    end: int
    score: float
    gold_article: bool
    has_answer: bool


@dataclass(frozen=True)
class CitationRow:
    number: int
    article_id: str
    start: int
    end: int
    quote: str
    supported: bool


@dataclass
class QuestionResult:
    id: str
    question: str
    turns: list[str]
    tags: list[str]
    answerable: bool
    answers: list[str]
    article_ids: list[str]
    passages: list[str]
    hits: list[HitRow]
    standalone_question: str = ""
    answer: str = ""
    short_answer: str = ""  # the reader's exact span; empty for answerers without one
    refused: bool = False
    sentences: int = 0
    cited_sentences: int = 0
    citations: list[CitationRow] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    correct: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @property
    def has_gold_text(self) -> bool:
        return bool(self.answers or self.passages)


def retrieval_gains(result: QuestionResult) -> tuple[list[bool], int]:
    """Gains and the number of relevant items: gold articles, else "the answer"."""
    if result.article_ids:
        keys = [h.article_id if h.gold_article else None for h in result.hits]
        return metrics.first_occurrences(keys), len(result.article_ids)
    return answer_gains(result), 1


def answer_gains(result: QuestionResult) -> list[bool]:
    return metrics.first_occurrences(["answer" if h.has_answer else None for h in result.hits])


def _passage_spans(passages: Sequence[str], text: str) -> list[tuple[int, int]]:
    spans = []
    for passage in passages:
        start = text.find(passage)
        while start != -1:
            spans.append((start, start + len(passage)))
            start = text.find(passage, start + 1)
    return spans


def _citation_supported(
    question: EvalQuestion, article_id: str, span: tuple[int, int], quote: str, text: str
) -> bool:
    if not question.answers and not question.passages:
        return article_id in question.article_ids
    return metrics.contains_any(quote, question.answers) or any(
        metrics.spans_overlap(span, s) for s in _passage_spans(question.passages, text)
    )


def judge(
    question: EvalQuestion,
    hits: Sequence[Hit],
    answer: Answer | None,
    articles: Mapping[str, Article],
    *,
    k: int,
    error: str = "",
) -> QuestionResult:
    """Score one question; ``answer`` is ``None`` for retrieval-only sets."""
    gold = set(question.article_ids)
    evidence = question.answers + question.passages
    result = QuestionResult(
        id=question.id,
        question=question.question,
        turns=list(question.turns),
        tags=list(question.tags),
        answerable=question.answerable,
        answers=list(question.answers),
        article_ids=list(question.article_ids),
        passages=list(question.passages),
        hits=[
            HitRow(
                rank=h.rank,
                article_id=h.chunk.article_id,
                start=h.chunk.start,
                end=h.chunk.end,
                score=round(h.score, 6),
                gold_article=h.chunk.article_id in gold,
                has_answer=metrics.contains_any(h.chunk.text, evidence),
            )
            for h in hits
        ],
        error=error,
    )
    if answer is not None:
        _add_answer(result, question, answer, articles)
    _score(result, k, retrieval_only=answer is None)
    return result


def _add_answer(
    result: QuestionResult, question: EvalQuestion, answer: Answer, articles: Mapping[str, Article]
) -> None:
    result.standalone_question = answer.standalone_question
    result.answer = answer.text
    result.short_answer = answer.short.text if answer.short else ""
    result.refused = answer.refused
    if answer.refused:
        return
    result.sentences = len(answer.sentences)
    result.cited_sentences = sum(bool(s.citations) for s in answer.sentences)
    result.citations = [
        CitationRow(
            number=c.number,
            article_id=c.article_id,
            start=c.start,
            end=c.end,
            quote=c.quote,
            supported=question.answerable
            and _citation_supported(
                question,
                c.article_id,
                (c.start, c.end),
                c.quote,
                articles[c.article_id].text if c.article_id in articles else "",
            ),
        )
        for c in answer.citations
    ]


def _score(result: QuestionResult, k: int, *, retrieval_only: bool) -> None:
    m = result.metrics
    problems = ["error"] if result.error else []
    if result.answerable:
        gains, relevant = retrieval_gains(result)
        for rank in RANKS:
            m[f"article_recall@{rank}"] = metrics.recall_at_k(gains, relevant, rank)
        m["mrr@10"] = metrics.reciprocal_rank(gains, 10)
        m["ndcg@10"] = metrics.ndcg_at_k(gains, relevant, 10)
        found = any(gains[:k])
        if result.has_gold_text:
            answer_found = answer_gains(result)
            for rank in RANKS:
                m[f"answer_recall@{rank}"] = metrics.recall_at_k(answer_found, 1, rank)
            found = any(answer_found[:k])
        if not found:
            problems.append("missed_retrieval")
        result.correct = found
    if retrieval_only:
        result.problems = problems
        return
    prediction = "" if result.refused else result.answer
    # EM and F1 score the short answer; the cited sentence is scored by answer_contained
    short = "" if result.refused else (result.short_answer or result.answer)
    if result.answerable and result.answers:
        m["exact_match"] = metrics.exact_match(short, result.answers)
        m["f1"] = metrics.token_f1(short, result.answers)
        m["answer_contained"] = metrics.answer_contained(prediction, result.answers)
        result.correct = bool(m["answer_contained"])
        if not result.refused and not m["answer_contained"]:
            problems.append("wrong_answer")
    elif result.answerable:
        result.correct = any(c.supported for c in result.citations)
    else:
        result.correct = result.refused
    if not all(c.supported for c in result.citations):
        problems.append("unsupported_citation")
    if result.answerable and result.refused:
        problems.append("false_refusal")
    if not result.answerable and not result.refused:
        problems.append("missed_refusal")
    result.correct = result.correct and not result.error
    result.problems = problems
