"""Section 2: the embedding model on torch (plain sentence-transformers fp32), ONNX fp32 and
ONNX dynamic int8, through hoidap's own embedders (``embed_backend`` = torch / onnx / onnx-int8).

The ONNX files are exported once next to the model folder in ``DATA_DIR/bench/models`` (a copy
of the default model folder built there by ``ensure_e5_model``), never into the repository.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.corpus import Question, load, load_questions, passages, subset
from bench.machine import machine_info
from bench.report import Section, Table, Target
from bench.stats import percentiles, repeat, spread
from qa.core.settings import DEFAULT_MODEL, Settings

BACKENDS = ("torch", "onnx", "onnx-int8")


def answer_recall(retrieve: Callable[[str], list], questions: list[Question]) -> float:
    """Share of questions with a gold answer inside one of the retrieved passages."""
    from eval.metrics import contains_any

    found = sum(
        any(contains_any(hit.chunk.text, q.answers) for hit in retrieve(q.question))
        for q in questions
    )
    return found / len(questions) if questions else 0.0


def _quality(
    settings: Settings, embedder, articles_path: Path, questions: list[Question], k: int
) -> tuple[dict[str, float], float, int]:
    from qa import components
    from qa.pipeline import Pipeline

    scratch = Path(tempfile.mkdtemp(prefix="backends-", dir=settings.data_dir / "bench"))
    try:
        pipeline = Pipeline(settings.model_copy(update={"data_dir": scratch}), embedder=embedder)
        report = pipeline.index([articles_path])
        recall = {}
        for fusion in ("dense", settings.fusion):
            retriever = components.retriever(
                settings.model_copy(update={"fusion": fusion}), pipeline.data, embedder
            )
            recall[fusion] = answer_recall(lambda q, r=retriever: r.retrieve(q, k), questions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return recall, report.embedded / report.seconds["embed"], report.embedded


@dataclass
class _Tables:
    encode: Table
    query: Table
    quality: Table


def run(
    settings: Settings,
    *,
    articles_path: Path,
    questions_path: Path,
    sample: int,
    n_questions: int,
    repeats: int,
    budget_s: float,
    log: Callable[[str], None],
    k: int = 5,
) -> Section:
    section = Section("backends", machine_info())
    cache = settings.data_dir / "bench" / "models"
    cache.mkdir(parents=True, exist_ok=True)
    backends = _backends(settings, cache, section, log)
    questions = load_questions(questions_path, n_questions)
    texts = [a.text[s:e] for a, s, e in passages(load(articles_path), settings)]
    rng = np.random.default_rng(6)
    picked = sorted(rng.choice(len(texts), size=min(sample, len(texts)), replace=False).tolist())
    sample_texts = [texts[i] for i in picked]
    tables = _tables(section, settings, sample_texts, questions, k)
    results: dict[str, dict[str, float]] = {}
    reference: list[np.ndarray] = []
    for backend in backends:
        log(f"backends: {backend}")
        backend_settings = settings.model_copy(
            update={"embed_backend": backend, "model_cache_dir": cache}
        )
        results[backend] = _measure(
            backend_settings,
            tables,
            sample_texts,
            questions,
            reference,
            articles_path=articles_path,
            repeats=repeats,
            budget_s=budget_s,
            k=k,
            torch_speed=results.get("torch", {}).get("speed"),
        )
    section.data = {"results": results, "questions": len(questions), "sample": len(sample_texts)}
    _conclude(section, settings, results)
    return section


def _backends(
    settings: Settings, cache: Path, section: Section, log: Callable[[str], None]
) -> tuple[str, ...]:
    """The backends that can run here; the ONNX files are exported once when needed."""
    if settings.model != DEFAULT_MODEL:
        section.notes.append(f"Model {settings.model!r}: ONNX export is done for the default only.")
        return ("torch",)
    from embeddings.e5 import ensure_e5_model
    from embeddings.onnx_export import ensure_onnx_model, onnx_dir

    log("backends: exporting ONNX and int8 models (once)")
    clock = time.perf_counter()
    folder = ensure_e5_model(cache)
    ensure_onnx_model(folder, "onnx")
    section.notes.append(
        f"ONNX files in {onnx_dir(folder)} (building or checking them took "
        f"{time.perf_counter() - clock:.0f} s this run)."
    )
    return BACKENDS


def _tables(
    section: Section,
    settings: Settings,
    sample_texts: list[str],
    questions: list[Question],
    k: int,
) -> _Tables:
    encode = section.table(
        f"Passage encoding: {len(sample_texts)} dev passages per call (median of runs), and "
        "the whole quality corpus once",
        [
            "backend",
            "passages/s",
            "ratio vs torch",
            "passages/s (index build)",
            "cosine vs torch min",
            "cosine vs torch mean",
            "model load s",
            "runs",
        ],
    )
    query = section.table(
        "Query encoding latency (ms, one question per call, cache cleared)",
        ["backend", "p50", "p95", "p99", "questions"],
    )
    quality = section.table(
        f"Retrieval quality: answer-recall@{k} on {len(questions)} dev questions",
        [
            "backend",
            "dense only",
            f"hybrid ({settings.fusion}, dense_weight {settings.dense_weight})",
            "passages indexed",
        ],
    )
    return _Tables(encode, query, quality)


def _measure(
    settings: Settings,
    tables: _Tables,
    sample_texts: list[str],
    questions: list[Question],
    reference: list[np.ndarray],
    *,
    articles_path: Path,
    repeats: int,
    budget_s: float,
    k: int,
    torch_speed: float | None,
) -> dict[str, float]:
    """One backend: encoding speed and agreement with torch, query latency, quality."""
    from qa import components

    backend = settings.embed_backend
    clock = time.perf_counter()
    embedder = components.embedder(settings)
    load_s = time.perf_counter() - clock
    embedder.embed_passages(sample_texts[:8])  # warm-up
    vectors: list[np.ndarray] = []

    def once() -> float:
        clock = time.perf_counter()
        vectors.append(embedder.embed_passages(sample_texts))
        return time.perf_counter() - clock

    seconds = spread(repeat(once, repeats, budget_s / 6))
    speed = len(sample_texts) / seconds.median
    if not reference:  # the first backend (torch) is the reference
        reference.append(vectors[0])
    cosines = (vectors[0] * reference[0]).sum(axis=1)
    query_ms = _query_ms(embedder, questions[:100])
    with subset(articles_path, {q.article_id for q in questions}) as quality_path:
        recall, index_speed, indexed = _quality(settings, embedder, quality_path, questions, k)
    tables.encode.add(
        backend,
        f"{speed:.1f} ({len(sample_texts) / seconds.high:.1f}–"
        f"{len(sample_texts) / seconds.low:.1f})",
        f"{speed / (torch_speed or speed):.2f}×",
        f"{index_speed:.1f}",
        f"{cosines.min():.4f}",
        f"{cosines.mean():.4f}",
        f"{load_s:.1f}",
        seconds.n,
    )
    p = percentiles(query_ms)
    tables.query.add(
        backend, f"{p['p50']:.1f}", f"{p['p95']:.1f}", f"{p['p99']:.1f}", len(query_ms)
    )
    tables.quality.add(backend, f"{recall['dense']:.3f}", f"{recall[settings.fusion]:.3f}", indexed)
    return {"speed": speed, "cos_min": float(cosines.min()), **recall}


def _query_ms(embedder: object, questions: list[Question]) -> list[float]:
    """Milliseconds of one uncached query encoding per question."""
    query_ms = []
    for q in questions:
        type(embedder)._cached_query.cache_clear()  # type: ignore[attr-defined]
        clock = time.perf_counter()
        embedder.embed_query(q.question)  # type: ignore[attr-defined]
        query_ms.append((time.perf_counter() - clock) * 1000)
    return query_ms


def _conclude(section: Section, settings: Settings, results: dict[str, dict[str, float]]) -> None:
    section.notes += [
        "Same model, same passages; torch is hoidap's SentenceTransformerEmbedder (plain "
        "sentence-transformers fp32), onnx and onnx-int8 its OnnxEmbedder "
        f"(batch {settings.embed_batch_size}); both sort the texts of a call by token length "
        "before batching, so batches are length-bucketed.",
        "Quality: each backend indexes the articles the sampled questions are about (its own "
        "vectors, same BM25) and "
        "answers the same fixed sample of questions; a hit counts when a retrieved passage "
        "contains a gold answer (eval.metrics.contains_any).",
        _verdict(results, settings.fusion),
    ]
    fastest = _keeps_quality(results, settings.fusion)
    section.targets.append(
        Target(
            "fastest backend that keeps quality (hybrid recall within 0.01 of torch)",
            f"{fastest} ({results[fastest]['speed'] / results['torch']['speed']:.2f}× torch)",
            None if len(results) == 1 else fastest != "torch",
        )
    )


def _keeps_quality(results: dict[str, dict[str, float]], fusion: str) -> str:
    base = results["torch"][fusion]
    good = [b for b, r in results.items() if r[fusion] >= base - 0.01]
    return max(good, key=lambda b: results[b]["speed"])


def _verdict(results: dict[str, dict[str, float]], fusion: str) -> str:
    if len(results) == 1:
        return "Only torch measured: no default change can be judged."
    best = _keeps_quality(results, fusion)
    if best == "torch":
        return "Verdict: keep torch as the default: no faster backend keeps hybrid recall."
    gain = results[best]["speed"] / results["torch"]["speed"]
    return (
        f"Verdict: `{best}` is the fastest backend that keeps quality ({gain:.2f}× torch, "
        f"hybrid recall {results[best][fusion]:.3f} vs {results['torch'][fusion]:.3f})."
    )
