"""Section 3c: answer latency over the passages retrieval hands the answerer.

The bundled corpus is indexed with the real model into a scratch folder; for each question of
the bundled set the top ``top_k`` passages are retrieved once, then every answerer (the trained
reader, the keyword extractive one) answers from those same passages, so the figures are the
answer step alone. Each answerer's p50/p95 is a median over repeats with their min–max.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.corpus import BUNDLED, load_questions
from bench.machine import machine_info
from bench.query_context import bench_dir
from bench.report import Section, Target
from bench.stats import latencies, percentiles, spread
from qa import components
from qa.core.protocols import Answerer
from qa.core.settings import PROJECT_ROOT, Settings
from qa.core.types import Hit

ANSWERERS = ("reader", "extractive")
TARGET_P50_MS, TARGET_P95_MS = 150.0, 300.0


def run(settings: Settings, repeats: int, budget_s: float, log: Callable[[str], None]) -> Section:
    from qa.pipeline import Pipeline

    section = Section("answer", machine_info())
    questions = load_questions(PROJECT_ROOT / "eval" / "sets" / "bundled.jsonl", 10**6)
    scratch = Path(tempfile.mkdtemp(prefix="answer-", dir=bench_dir(settings)))
    try:
        base = settings.model_copy(update={"data_dir": scratch, "articles": [BUNDLED]})
        pipeline = Pipeline(base)
        log("answer: indexing the bundled corpus")
        pipeline.index([BUNDLED])
        retrieved = [(q.question, pipeline.search(q.question, k=settings.top_k)) for q in questions]
        table = section.table(
            f"Answer step over the top {settings.top_k} passages, {len(retrieved)} questions",
            ["answerer", "p50 ms", "p95 ms", "mean passages read", "runs"],
        )
        for name in ANSWERERS:
            answerer = components.answerer(
                settings.model_copy(update={"answerer": name}), pipeline.data
            )
            answerer.answer(*retrieved[0])  # the first call loads the model
            log(f"answer: timing {answerer.name}")
            runs = [_percentiles(answerer, retrieved, budget_s / repeats) for _ in range(repeats)]
            p50 = spread([r["p50"] for r in runs])
            p95 = spread([r["p95"] for r in runs])
            passages = sum(len(h) for _q, h in retrieved) / len(retrieved)
            table.add(
                answerer.name, p50.format(1, 1e3), p95.format(1, 1e3), f"{passages:.1f}", p50.n
            )
            section.data[answerer.name] = {"p50_s": p50.median, "p95_s": p95.median, "runs": runs}
            if answerer.name == "reader":
                section.targets.append(
                    Target(
                        f"reader answer p50 ≤ {TARGET_P50_MS:.0f} ms, p95 ≤ {TARGET_P95_MS:.0f} ms",
                        f"{p50.median * 1e3:.0f} / {p95.median * 1e3:.0f} ms",
                        p50.median * 1e3 <= TARGET_P50_MS and p95.median * 1e3 <= TARGET_P95_MS,
                    )
                )
        section.notes.append(
            "The answer step only (retrieval done beforehand); questions of eval/sets/bundled.jsonl "
            "over the bundled articles."
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return section


def _percentiles(
    answerer: Answerer, retrieved: list[tuple[str, list[Hit]]], budget_s: float
) -> dict[str, float]:
    seconds = latencies(lambda i: answerer.answer(*retrieved[i]), len(retrieved), budget_s)
    return percentiles(seconds, (50, 95))
