"""Aggregate per-question results into one flat metrics table, overall and per tag."""

from __future__ import annotations

from collections.abc import Sequence

from eval import metrics
from eval.scoring import PROBLEMS, QuestionResult, answer_gains, retrieval_gains

STAGES = ("retrieval", "answer", "total", "wall")
GATE_METRIC = "answer_recall@5"
# Metrics averaged over the questions that define them, in table order.
_AVERAGED = (
    "article_recall@1",
    "article_recall@5",
    "article_recall@10",
    "mrr@10",
    "ndcg@10",
    "answer_recall@1",
    "answer_recall@5",
    "answer_recall@10",
    "exact_match",
    "f1",
    "answer_contained",
)


def summarize(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """Every metric of a group of questions; ``None`` where the group cannot define it."""
    table: dict[str, float | None] = {
        "questions": len(results),
        "answerable": sum(r.answerable for r in results),
        "unanswerable": sum(not r.answerable for r in results),
        "correct": metrics.ratio(sum(r.correct for r in results), len(results)),
    }
    for name in _AVERAGED:
        table[name] = metrics.mean([r.metrics.get(name) for r in results])
    table["citation_precision"] = metrics.ratio(
        sum(c.supported for r in results for c in r.citations),
        sum(len(r.citations) for r in results),
    )
    table["citation_coverage"] = metrics.ratio(
        sum(r.cited_sentences for r in results), sum(r.sentences for r in results)
    )
    table["refusal_precision"], table["refusal_recall"] = metrics.refusal_scores(
        [r.refused for r in results], [not r.answerable for r in results]
    )
    for code in PROBLEMS:
        table[f"problem.{code}"] = sum(code in r.problems for r in results)
    for stage in STAGES:
        values = [r.timings[stage] for r in results if stage in r.timings]
        table[f"latency.{stage}.p50"] = metrics.percentile(values, 50)
        table[f"latency.{stage}.p95"] = metrics.percentile(values, 95)
    return table


def summarize_by_tag(results: Sequence[QuestionResult]) -> dict[str, dict[str, float | None]]:
    tags = sorted({t for r in results for t in r.tags})
    return {tag: summarize([r for r in results if tag in r.tags]) for tag in tags}


def recall_curves(results: Sequence[QuestionResult], depth: int) -> dict[str, list[float | None]]:
    """Mean article and answer recall at every k from 1 to ``depth``."""
    answerable = [r for r in results if r.answerable]
    retrieval = [retrieval_gains(r) for r in answerable]
    answers = [answer_gains(r) for r in answerable if r.has_gold_text]
    ks = range(1, depth + 1)
    return {
        "article_recall": [
            metrics.mean([metrics.recall_at_k(g, n, k) for g, n in retrieval]) for k in ks
        ],
        "answer_recall": [
            metrics.mean([metrics.recall_at_k(g, 1, k) for g in answers]) for k in ks
        ],
    }


def gate_failure(summary: dict[str, float | None], min_recall5: float) -> str | None:
    """Why the run fails the ``--min-recall5`` gate, or ``None`` when it passes."""
    value = summary.get(GATE_METRIC)
    if value is None:
        return f"Không tính được {GATE_METRIC}: bộ câu hỏi không có đáp án hay đoạn văn mẫu."
    if value < min_recall5:
        return f"{GATE_METRIC} = {value:.4f} thấp hơn ngưỡng {min_recall5:.4f}."
    return None
