"""eval.scoring and eval.summary: one question judged, and a group summarized, by hand."""

from __future__ import annotations

import math

import pytest

from eval.eval_set import EvalQuestion
from eval.scoring import judge
from eval.summary import gate_failure, recall_curves, summarize, summarize_by_tag
from qa.core.types import Answer, AnswerSentence, Article, Chunk, Citation, Hit

TEXT_A = "Ông Kiên Ninh là Trưởng Ban Dân tộc tỉnh Trà Vinh. Hội nghị diễn ra ngày 27/6."
TEXT_B = "Bà Triệu Thị Thu Phương là Trưởng Ban Dân tộc tỉnh Bắc Kạn."
ARTICLES = {
    "a": Article(id="a", title="A", text=TEXT_A),
    "b": Article(id="b", title="B", text=TEXT_B),
    "c": Article(id="c", title="C", text="Không liên quan."),
}


def hit(rank: int, article: str, start: int, end: int, score: float = 0.5) -> Hit:
    return Hit(Chunk(rank, article, start, end, ARTICLES[article].text), score=score, rank=rank)


def cite(number: int, article: str, start: int, end: int) -> Citation:
    quote = ARTICLES[article].text[start:end]
    return Citation(number, article, "", "", start, end, quote, 0)


def answer(text: str, citations: list[Citation], *, refused: bool = False) -> Answer:
    sentences = [AnswerSentence(text, tuple(c.number for c in citations), 1.0, True)]
    return Answer("q", text, [] if refused else sentences, citations, refused, [])


HITS = [hit(1, "c", 0, 16), hit(2, "a", 0, 50), hit(3, "a", 51, 78), hit(4, "b", 0, 59)]


def test_article_retrieval_metrics_count_each_gold_article_once() -> None:
    question = EvalQuestion("q", "Ai?", answers=("Kiên Ninh",), article_ids=("a",))
    result = judge(question, HITS, None, ARTICLES, k=10)
    assert result.metrics["article_recall@1"] == 0.0
    assert result.metrics["article_recall@5"] == 1.0
    assert result.metrics["mrr@10"] == 0.5
    assert result.metrics["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert result.metrics["answer_recall@1"] == 0.0
    assert result.metrics["answer_recall@5"] == 1.0
    assert result.correct and result.problems == []


def test_two_gold_articles_and_tied_scores_follow_the_given_ranks() -> None:
    question = EvalQuestion("q", "Ai?", answers=("Trưởng Ban",), article_ids=("a", "b"))
    tied = [hit(1, "a", 0, 50, 0.7), hit(2, "c", 0, 16, 0.7), hit(3, "b", 0, 59, 0.7)]
    result = judge(question, tied, None, ARTICLES, k=10)
    assert result.metrics["article_recall@1"] == 0.5
    assert result.metrics["mrr@10"] == 1.0
    # dcg = 1 + 1/log2(4); ideal = 1 + 1/log2(3)
    assert result.metrics["ndcg@10"] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_without_article_ids_the_answer_passage_is_the_relevant_item() -> None:
    question = EvalQuestion("q", "Ai?", answers=("Thu Phương",))
    result = judge(question, HITS, None, ARTICLES, k=3)
    assert result.metrics["article_recall@1"] == 0.0
    assert result.metrics["mrr@10"] == 0.25
    assert result.problems == ["missed_retrieval"]  # first found at rank 4 > k = 3
    assert not result.correct


def test_citations_supported_by_answer_or_passage_overlap() -> None:
    question = EvalQuestion(
        "q",
        "Ai?",
        answers=("Kiên Ninh",),
        article_ids=("a",),
        passages=("Hội nghị diễn ra ngày 27/6.",),
    )
    citations = [cite(1, "a", 0, 50), cite(2, "a", 60, 78), cite(3, "b", 0, 20)]
    result = judge(question, HITS, answer("Ông Kiên Ninh.", citations), ARTICLES, k=10)
    assert [c.supported for c in result.citations] == [True, True, False]
    assert result.metrics["exact_match"] == 0.0
    assert result.metrics["f1"] == pytest.approx(0.8)  # 3 tokens vs 2: p = 2/3, r = 1
    assert result.metrics["answer_contained"] == 1.0
    assert result.problems == ["unsupported_citation"]
    assert result.correct


def test_only_article_ids_judge_citations_by_article() -> None:
    question = EvalQuestion("q", "Ai?", passages=("không có ở đâu",), article_ids=("a",))
    bare = EvalQuestion("q", "Ai?", article_ids=("a",))
    citations = [cite(1, "a", 0, 10), cite(2, "b", 0, 10)]
    assert [
        c.supported for c in judge(bare, HITS, answer("x", citations), ARTICLES, k=10).citations
    ] == [True, False]
    assert not any(
        c.supported for c in judge(question, HITS, answer("x", citations), ARTICLES, k=10).citations
    )


def test_refusals_false_and_missed() -> None:
    answerable = EvalQuestion("q1", "Ai?", answers=("Kiên Ninh",), article_ids=("a",))
    refused = judge(answerable, HITS, answer("Không rõ.", [], refused=True), ARTICLES, k=10)
    assert refused.metrics["exact_match"] == 0.0 and refused.metrics["f1"] == 0.0
    assert refused.problems == ["false_refusal"] and not refused.correct

    unanswerable = EvalQuestion("q2", "Lào Cai?", answerable=False)
    answered = judge(
        unanswerable, HITS, answer("Ông Kiên Ninh.", [cite(1, "a", 0, 50)]), ARTICLES, k=10
    )
    assert "article_recall@1" not in answered.metrics and "f1" not in answered.metrics
    assert answered.problems == ["unsupported_citation", "missed_refusal"]
    assert not answered.correct
    declined = judge(unanswerable, HITS, answer("Không rõ.", [], refused=True), ARTICLES, k=10)
    assert declined.correct and declined.problems == []


def test_an_error_is_a_problem_and_never_correct() -> None:
    question = EvalQuestion("q", "Ai?", answers=("Kiên Ninh",))
    result = judge(question, [], answer("", []), ARTICLES, k=10, error="hỏng")
    assert result.problems[0] == "error" and not result.correct


def test_summary_micro_averages_and_tags() -> None:
    q1 = EvalQuestion("q1", "Ai?", answers=("Kiên Ninh",), article_ids=("a",), tags=("x",))
    q2 = EvalQuestion("q2", "Ai?", answers=("Thu Phương",), article_ids=("b",), tags=("x", "y"))
    q3 = EvalQuestion("q3", "Lào Cai?", answerable=False, tags=("y",))
    two_sentences = Answer(
        "q",
        "Ông Kiên Ninh. Thêm.",
        [AnswerSentence("Ông Kiên Ninh.", (1,), 1, True), AnswerSentence("Thêm.", (), 0, False)],
        [cite(1, "a", 0, 50)],
        False,
        [],
    )
    results = [
        judge(q1, HITS, two_sentences, ARTICLES, k=10),
        judge(q2, HITS, answer("Sai.", [cite(1, "c", 0, 5)]), ARTICLES, k=10),
        judge(q3, HITS, answer("Không rõ.", [], refused=True), ARTICLES, k=10),
    ]
    for result, seconds in zip(results, (0.1, 0.2, 0.3), strict=True):
        result.timings = {"total": seconds}
    summary = summarize(results)
    assert summary["questions"] == 3 and summary["unanswerable"] == 1
    assert summary["correct"] == pytest.approx(2 / 3)
    assert summary["answer_contained"] == 0.5
    assert summary["citation_precision"] == 0.5
    assert summary["citation_coverage"] == pytest.approx(2 / 3)
    assert (summary["refusal_precision"], summary["refusal_recall"]) == (1.0, 1.0)
    assert summary["problem.wrong_answer"] == 1
    assert summary["latency.total.p50"] == pytest.approx(0.2)
    assert summary["latency.retrieval.p50"] is None
    tags = summarize_by_tag(results)
    assert list(tags) == ["x", "y"]
    assert tags["x"]["questions"] == 2 and tags["y"]["refusal_recall"] == 1.0
    curves = recall_curves(results, 10)
    assert curves["article_recall"][0] == 0.0 and curves["article_recall"][3] == 1.0
    assert len(curves["answer_recall"]) == 10


def test_gate_failure() -> None:
    assert gate_failure({"answer_recall@5": 1.0}, 1.0) is None
    assert "0.9000" in (gate_failure({"answer_recall@5": 0.9}, 1.0) or "")
    assert gate_failure({"answer_recall@5": None}, 0.5) is not None


def test_exact_match_and_f1_score_the_short_answer_and_containment_the_sentence() -> None:
    from qa.core.types import ShortAnswer

    question = EvalQuestion("q1", "Ai là Trưởng Ban Dân tộc tỉnh Trà Vinh?", answers=("Kiên Ninh",))
    sentence = cite(1, "a", 0, 50)
    given = answer(TEXT_A[:50] + " [1]", [sentence])
    given.short = ShortAnswer("Kiên Ninh", 1, 4, 13, 3.0)
    result = judge(question, HITS, given, ARTICLES, k=5)
    assert result.short_answer == "Kiên Ninh"
    assert result.metrics["exact_match"] == 1.0 and result.metrics["f1"] == 1.0
    assert result.metrics["answer_contained"] == 1.0
    without = judge(question, HITS, answer(TEXT_A[:50] + " [1]", [sentence]), ARTICLES, k=5)
    assert without.metrics["exact_match"] == 0.0  # the whole sentence is no exact answer
    assert 0.0 < without.metrics["f1"] < 1.0
