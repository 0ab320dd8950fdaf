"""Run an eval set through a pipeline and write the results folder."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval.eval_set import EvalQuestion, EvalSet, evidence_problems
from eval.report import render_report
from eval.scoring import QuestionResult, judge
from eval.summary import recall_curves, summarize, summarize_by_tag
from qa import __version__
from qa.core.errors import HoidapError, InputError
from qa.core.types import Answer, Article, Hit, Turn
from qa.pipeline import Pipeline

FORMAT = 1
RUNS_DIR = Path("eval") / "runs"
RESULTS, REPORT = "results.json", "report.html"
# Answer.timings keys that name one of our stages differently.
_STAGE_NAMES = {"retrieve": "retrieval"}
_SECRET_SETTINGS = ("openai_api_key",)


def default_run_dir(set_name: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return RUNS_DIR / f"{set_name}-{stamp}"


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse a results folder that already holds something, unless overwriting."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: đã có một tệp trùng tên thư mục kết quả")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out}: thư mục kết quả đã có; dùng --overwrite để ghi đè")


def run_question(
    pipeline: Pipeline,
    question: EvalQuestion,
    articles: Mapping[str, Article],
    *,
    k: int,
    depth: int,
    retrieval_only: bool,
) -> QuestionResult:
    """Ask (unless retrieval-only), then retrieve ``depth`` hits for the question the pipeline
    actually searched (the standalone rewrite of a follow-up); retrieval misses below ``k``."""
    answer: Answer | None = None
    hits: list[Hit] = []
    errors: list[str] = []
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    if not retrieval_only:
        try:
            # earlier turns are asked as a user would, so follow-ups see real answers
            history: list[Turn] = []
            removed = question.removed_article_ids
            for earlier in question.turns:
                history.append(Turn.of(pipeline.ask(earlier, history, removed)))
            answer = pipeline.ask(question.question, history, removed)
            timings.update({_STAGE_NAMES.get(n, n): s for n, s in answer.timings.items()})
        except HoidapError as exc:
            errors.append(str(exc))
            answer = Answer(question.question, "", [], [], refused=False, hits=[])
        timings.setdefault("answer", time.perf_counter() - clock)
    query = (answer.standalone_question if answer else "") or question.question
    started = time.perf_counter()
    try:
        hits = pipeline.search(query, k=depth, exclude=question.removed_article_ids)
    except HoidapError as exc:
        errors.append(str(exc))
    timings.setdefault("retrieval", time.perf_counter() - started)
    timings.setdefault("total", timings.get("answer", timings["retrieval"]))
    timings["wall"] = time.perf_counter() - clock
    error = "; ".join(dict.fromkeys(errors))
    result = judge(question, hits, answer, articles, k=k, error=error)
    result.timings = {n: round(s, 6) for n, s in timings.items()}
    return result


def run_set(
    pipeline: Pipeline, eval_set: EvalSet, *, k: int = 10, progress: bool = False
) -> dict[str, Any]:
    """Every question of the set, scored; the returned dict is what ``results.json`` holds."""
    if not 1 <= k <= 100:
        raise InputError(f"k phải từ 1 đến 100 (nhận {k}).")
    depth = max(10, k)
    articles = pipeline.data.articles
    pipeline.embedder.embed_query(eval_set.questions[0].question)  # load the model untimed
    warnings = [p for q in eval_set.questions for p in evidence_problems(q, articles)]
    results = [
        run_question(
            pipeline, q, articles, k=k, depth=depth, retrieval_only=eval_set.retrieval_only
        )
        for q in tqdm(eval_set.questions, desc="Đánh giá", unit="câu", disable=not progress)
    ]
    manifest = pipeline.data.manifest
    settings = pipeline.settings.model_dump(mode="json")
    for key in _SECRET_SETTINGS:
        settings[key] = "***" if settings.get(key) else ""
    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hoidap_version": __version__,
        "set": {
            "name": eval_set.name,
            "path": str(eval_set.path),
            "questions": len(eval_set.questions),
            "invalid": [asdict(i) for i in eval_set.invalid],
            "notes": eval_set.notes,
            "counts": eval_set.counts,
            "retrieval_only": eval_set.retrieval_only,
        },
        "model": manifest.model,
        "index": {
            "corpus_fingerprint": manifest.corpus_fingerprint,
            "article_count": manifest.article_count,
            "chunk_count": manifest.chunk_count,
            "data_dir": str(pipeline.settings.data_dir),
        },
        "settings": settings,
        "k": k,
        "depth": depth,
        "summary": summarize(results),
        "tags": summarize_by_tag(results),
        "curves": recall_curves(results, depth),
        "warnings": warnings,
        "questions": [asdict(r) for r in results],
    }


def write_run(results: dict[str, Any], out: Path, *, overwrite: bool = False) -> Path:
    """Write ``results.json`` and ``report.html`` into ``out``."""
    check_out_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS).write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")
    (out / REPORT).write_text(render_report(results), "utf-8")
    return out
