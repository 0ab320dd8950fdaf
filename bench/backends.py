"""Section 2: the embedding model on torch, ONNX and ONNX dynamic int8, through hoidap's own
``SentenceTransformerEmbedder`` (``embed_backend`` = torch / onnx / onnx-int8).

The ONNX files are exported once into ``DATA_DIR/bench/models`` (a copy of the default model
folder built there by ``ensure_e5_model``), never into the repository. The ONNX backend needs the
``onnx`` extra (optimum-onnx + onnxruntime); without it only torch is measured.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.corpus import Question, load, load_questions, passages, subset
from bench.machine import machine_info
from bench.report import Section, Target
from bench.stats import percentiles, repeat, spread
from qa.core.settings import DEFAULT_MODEL, Settings

BACKENDS = ("torch", "onnx", "onnx-int8")
INT8_FILE = "onnx/model_qint8_avx512_vnni.onnx"  # the file SentenceTransformerEmbedder loads
ONNX_FILE = "onnx/model.onnx"


def onnx_missing() -> str | None:
    """Why the ONNX backend cannot run here, or None when it can."""
    try:
        import onnxruntime  # noqa: F401
        from optimum.onnxruntime import ORTModelForFeatureExtraction  # noqa: F401
    except Exception as exc:  # ImportError, or optimum failing against this transformers
        return f"{type(exc).__name__}: {exc}"
    return None


def prepare_onnx(cache_dir: Path) -> tuple[Path, float]:
    """The default model folder in ``cache_dir`` with its ONNX and int8 files; export seconds."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    from embeddings.e5 import ensure_e5_model

    folder = ensure_e5_model(cache_dir)
    clock = time.perf_counter()
    if not (folder / ONNX_FILE).exists():
        model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
            model.save_pretrained(tmp)  # only its onnx/model.onnx is kept
            (folder / "onnx").mkdir(exist_ok=True)
            shutil.copy(Path(tmp) / ONNX_FILE, folder / ONNX_FILE)
    if not (folder / INT8_FILE).exists():
        model = SentenceTransformer(str(folder), device="cpu", backend="onnx")
        export_dynamic_quantized_onnx_model(model, "avx512_vnni", str(folder))
    return folder, time.perf_counter() - clock


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
    from qa import components

    section = Section("backends", machine_info())
    if settings.model != DEFAULT_MODEL:
        section.notes.append(f"Model {settings.model!r}: ONNX export is done for the default only.")
    cache = settings.data_dir / "bench" / "models"
    cache.mkdir(parents=True, exist_ok=True)
    backends: tuple[str, ...] = BACKENDS
    missing = onnx_missing()
    if missing or settings.model != DEFAULT_MODEL:
        backends = ("torch",)
        if missing:
            section.notes.append(
                f"ONNX skipped: {missing}. Install the `onnx` extra (optimum-onnx needs "
                "transformers < 4.58, so sentence-transformers 5.x)."
            )
    else:
        log("backends: exporting ONNX and int8 models (once)")
        folder, export_s = prepare_onnx(cache)
        section.notes.append(f"ONNX files in {folder} (export took {export_s:.0f} s this run).")
    questions = load_questions(questions_path, n_questions)
    texts = [a.text[s:e] for a, s, e in passages(load(articles_path), settings)]
    rng = np.random.default_rng(6)
    picked = sorted(rng.choice(len(texts), size=min(sample, len(texts)), replace=False).tolist())
    sample_texts = [texts[i] for i in picked]

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
    results: dict[str, dict[str, float]] = {}
    reference: np.ndarray | None = None
    for backend in backends:
        log(f"backends: {backend}")
        backend_settings = settings.model_copy(
            update={"embed_backend": backend, "model_cache_dir": cache}
        )
        clock = time.perf_counter()
        embedder = components.embedder(backend_settings)
        load_s = time.perf_counter() - clock
        embedder.embed_passages(sample_texts[:8])  # warm-up
        vectors: list[np.ndarray] = []

        def once(embedder=embedder, vectors=vectors) -> float:
            clock = time.perf_counter()
            vectors.append(embedder.embed_passages(sample_texts))
            return time.perf_counter() - clock

        seconds = spread(repeat(once, repeats, budget_s / 6))
        speed = len(sample_texts) / seconds.median
        if reference is None:
            reference = vectors[0]
        cosines = (vectors[0] * reference).sum(axis=1)
        query_ms = []
        for q in questions[:100]:
            type(embedder)._cached_query.cache_clear()
            clock = time.perf_counter()
            embedder.embed_query(q.question)
            query_ms.append((time.perf_counter() - clock) * 1000)
        with subset(articles_path, {q.article_id for q in questions}) as quality_path:
            recall, index_speed, indexed = _quality(
                backend_settings, embedder, quality_path, questions, k
            )
        results[backend] = {"speed": speed, "cos_min": float(cosines.min()), **recall}
        torch_speed = results["torch"]["speed"]
        encode.add(
            backend,
            f"{speed:.1f} ({len(sample_texts) / seconds.high:.1f}–"
            f"{len(sample_texts) / seconds.low:.1f})",
            f"{speed / torch_speed:.2f}×",
            f"{index_speed:.1f}",
            f"{cosines.min():.4f}",
            f"{cosines.mean():.4f}",
            f"{load_s:.1f}",
            seconds.n,
        )
        p = percentiles(query_ms)
        query.add(backend, f"{p['p50']:.1f}", f"{p['p95']:.1f}", f"{p['p99']:.1f}", len(query_ms))
        quality.add(backend, f"{recall['dense']:.3f}", f"{recall[settings.fusion]:.3f}", indexed)
        del embedder
    section.data = {"results": results, "questions": len(questions), "sample": len(sample_texts)}
    section.notes += [
        "Same model, same passages; each backend runs through hoidap's SentenceTransformerEmbedder "
        f"(batch {settings.embed_batch_size}); sentence-transformers' encode sorts the texts of a "
        "call by length before batching, so batches are length-bucketed.",
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
    return section


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
        f"hybrid recall {results[best][fusion]:.3f} vs {results['torch'][fusion]:.3f}). It can "
        "become the default only with the `onnx` extra installed, and that extra's optimum-onnx "
        "needs transformers < 4.58, so pip resolves sentence-transformers 5.x instead of 6.x."
    )
