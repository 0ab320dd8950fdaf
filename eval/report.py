"""Self-contained HTML reports (inline CSS and SVG, no scripts) of a run and of a comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from eval.charts import Chart, histogram, line_chart
from eval.scoring import PROBLEMS

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_LABELS = {
    "questions": "Số câu hỏi",
    "answerable": "Câu trả lời được",
    "unanswerable": "Câu không trả lời được",
    "correct": "Tỷ lệ câu đúng",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "exact_match": "Câu trả lời ngắn khớp chính xác (EM)",
    "f1": "Câu trả lời ngắn: F1 theo từ",
    "answer_contained": "Câu trả lời chứa đáp án",
    "citation_precision": "Độ chính xác trích dẫn",
    "citation_coverage": "Độ phủ trích dẫn (câu có trích dẫn)",
    "refusal_precision": "Precision từ chối",
    "refusal_recall": "Recall từ chối",
}
_PREFIXES = {"article_recall@": "Recall bài viết @", "answer_recall@": "Recall đáp án @"}
_STAGES = {"retrieval": "truy xuất", "answer": "trả lời", "total": "tổng", "wall": "đồng hồ eval"}


def metric_label(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    for prefix, label in _PREFIXES.items():
        if key.startswith(prefix):
            return label + key.removeprefix(prefix)
    kind, _, rest = key.partition(".")
    if kind == "problem":
        return f"Số câu: {PROBLEMS.get(rest, rest).lower()}"
    if kind == "latency":
        stage, _, stat = rest.partition(".")
        return f"Độ trễ {_STAGES.get(stage, stage)} {stat} (ms)"
    return key


def format_value(key: str, value: object) -> str:
    if value is None:
        return "—"
    if key.startswith("latency."):
        return f"{float(value) * 1000:.1f}"  # type: ignore[arg-type]
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _first_rank(hits: list[dict[str, Any]], flag: str) -> int | None:
    return next((h["rank"] for h in hits if h[flag]), None)


def _question_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "answer_rank": _first_rank(row["hits"], "has_answer"),
        "article_rank": _first_rank(row["hits"], "gold_article"),
        "problem_labels": [PROBLEMS[p] for p in row["problems"]],
    }


def _charts(results: dict[str, Any]) -> list[Chart]:
    rows = results["questions"]
    curves = results["curves"]
    charts = [
        line_chart(
            "Recall@k",
            {"Bài viết": curves["article_recall"], "Đáp án": curves["answer_recall"]},
            x_label="k (số đoạn truy xuất)",
            y_label="recall",
        )
    ]
    for stage in ("retrieval", "answer", "total"):
        values = [r["timings"][stage] * 1000 for r in rows if stage in r["timings"]]
        if values:
            charts.append(
                histogram(
                    f"Độ trễ {_STAGES[stage]} (ms)",
                    {_STAGES[stage]: values},
                    x_label="ms",
                    low=0.0,
                    label=lambda v: f"{v:.0f}",
                )
            )
    f1 = [r["metrics"]["f1"] for r in rows if r["metrics"].get("f1") is not None]
    if f1:
        charts.append(histogram("Phân bố F1", {"F1": f1}, x_label="F1", low=0.0, high=1.0))
    top = {
        "trả lời được": [r["hits"][0]["score"] for r in rows if r["hits"] and r["answerable"]],
        "không trả lời được": [
            r["hits"][0]["score"] for r in rows if r["hits"] and not r["answerable"]
        ],
    }
    charts.append(
        histogram(
            "Điểm của đoạn truy xuất đầu tiên",
            {name: values for name, values in top.items() if values},
            x_label="điểm",
        )
    )
    return charts


def _summary_table(results: dict[str, Any]) -> dict[str, Any]:
    columns = {"Tất cả": results["summary"], **results["tags"]}
    return {
        "columns": list(columns),
        "rows": [
            (metric_label(key), [format_value(key, c.get(key)) for c in columns.values()])
            for key in results["summary"]
        ],
    }


def render_report(results: dict[str, Any]) -> str:
    return _ENV.get_template("report.html").render(
        r=results,
        table=_summary_table(results),
        charts=_charts(results),
        questions=[_question_view(q) for q in results["questions"]],
        problem_counts=[
            (code, label, results["summary"][f"problem.{code}"]) for code, label in PROBLEMS.items()
        ],
    )


def render_compare(comparison: dict[str, Any]) -> str:
    return _ENV.get_template("compare.html").render(c=comparison)
