"""Section 3c: answer latency over the passages retrieval hands the answerer.

The bundled corpus is indexed with the real model into a scratch folder; for each question of
the bundled set the top ``top_k`` passages are retrieved once, then every answerer (the trained
reader on each ``reader_backend``, the keyword extractive one) answers from those same passages,
so the figures are the answer step alone. Each answerer's p50/p95 is a median over repeats with
their min–max. Each ONNX reader's logits are compared with torch's on the windows of those
passages (largest difference over real tokens).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.corpus import BUNDLED, load_questions
from bench.machine import machine_info
from bench.query_context import bench_dir
from bench.report import Section, Target
from bench.stats import latencies, percentiles, spread
from qa import components
from qa.core.index_data import IndexData
from qa.core.protocols import Answerer, SpanReader
from qa.core.settings import PROJECT_ROOT, Settings
from qa.core.types import Hit

READER_BACKENDS = ("torch", "onnx", "onnx-int8")  # torch first: the others' reference
ANSWERERS = (*READER_BACKENDS, "extractive")
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
            f"Answer step over the top {settings.top_k} passages, {len(retrieved)} questions "
            "(ms per question)",
            ["answerer", "p50 ms", "p95 ms", "max |logit diff| vs torch", "load s", "runs"],
        )
        readers: dict[str, SpanReader] = {}
        for name in ANSWERERS:
            clock = time.perf_counter()
            answerer, reader = _answerer(settings, pipeline.data, name)
            load_s = time.perf_counter() - clock
            answerer.answer(*retrieved[0])  # warm-up
            log(f"answer: timing {name}")
            runs = [_percentiles(answerer, retrieved, budget_s / repeats) for _ in range(repeats)]
            p50 = spread([r["p50"] for r in runs])
            p95 = spread([r["p95"] for r in runs])
            diff = None
            if reader is not None:
                if readers:  # torch's is the first
                    diff = _logit_diff(readers["torch"], reader, retrieved)
                readers[name] = reader
            table.add(
                name if reader is None else f"reader ({name})",
                p50.format(1, 1e3),
                p95.format(1, 1e3),
                "—" if diff is None else f"{diff:.4f}",
                "—" if reader is None else f"{load_s:.1f}",
                p50.n,
            )
            section.data[name] = {"p50_s": p50.median, "p95_s": p95.median, "runs": runs}
            if diff is not None:
                section.data[name]["max_logit_diff"] = diff
            if name == components.reader_backend(settings):
                section.targets.append(
                    Target(
                        f"reader ({name}, the default) answer p50 ≤ {TARGET_P50_MS:.0f} ms, "
                        f"p95 ≤ {TARGET_P95_MS:.0f} ms",
                        f"{p50.median * 1e3:.0f} / {p95.median * 1e3:.0f} ms",
                        p50.median * 1e3 <= TARGET_P50_MS and p95.median * 1e3 <= TARGET_P95_MS,
                    )
                )
        section.notes.append(
            "The answer step only (retrieval done beforehand); questions of eval/sets/bundled.jsonl "
            "over the bundled articles; mean passages read per question: "
            f"{sum(len(h) for _q, h in retrieved) / len(retrieved):.1f}. load s: building the "
            "reader (exporting its ONNX files when this cache has none yet)."
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return section


def _answerer(settings: Settings, data: IndexData, name: str) -> tuple[Answerer, SpanReader | None]:
    """The answerer ``name`` (a reader backend, or the extractive answerer) and its reader."""
    if name not in READER_BACKENDS:
        return components.answerer(settings.model_copy(update={"answerer": name}), data), None
    reader_settings = settings.model_copy(update={"answerer": "reader", "reader_backend": name})
    loaded = components.span_reader(reader_settings)
    return components.answerer(reader_settings, data, lambda: loaded), loaded.reader


def _percentiles(
    answerer: Answerer, retrieved: list[tuple[str, list[Hit]]], budget_s: float
) -> dict[str, float]:
    seconds = latencies(lambda i: answerer.answer(*retrieved[i]), len(retrieved), budget_s)
    return percentiles(seconds, (50, 95))


def _logit_diff(reference: object, other: object, retrieved: list[tuple[str, list[Hit]]]) -> float:
    """The largest |start or end logit| difference between two readers over the real tokens of
    every window of the retrieved passages."""
    from qa.answer.reader.windows import BATCH, pad_batch

    windower = reference.windower  # type: ignore[attr-defined]
    worst = 0.0
    for question, hits in retrieved:
        windows = windower.windows(question, [h.chunk.text for h in hits], [[0]] * len(hits))
        for b in range(0, len(windows), BATCH):
            ids, mask = pad_batch([w.ids for w in windows[b : b + BATCH]], windower.pad)
            real = mask.astype(bool)
            for a, c in zip(reference.logits(ids, mask), other.logits(ids, mask), strict=True):  # type: ignore[attr-defined]
                worst = max(worst, float(np.abs(a - c)[real].max()))
    return worst
