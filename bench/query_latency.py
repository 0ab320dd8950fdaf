"""Section 3a: search and answer latency, and memory, by collection size.

Search runs hoidap's own retriever and extractive answerer (made by ``qa.components``) over a
synthetic ``IndexData`` (``bench.query_context``). The retriever's embedder only looks up each
question's precomputed vector: query encoding is measured in the backends section.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from bench import indexes, serving_memory, synth
from bench.machine import rss_bytes
from bench.query_context import (
    MIB,
    LookupQueries,
    QueryContext,
    build_collection,
    ms,
    too_big,
)
from bench.report import Section, Target
from bench.stats import latencies, percentiles
from qa import components
from qa.core.index_data import IndexData
from qa.core.protocols import Embedder, Retriever
from qa.core.settings import Settings

_LATENCY_COLUMNS = [
    "passages",
    "dense index",
    "search p50",
    "search p95",
    "search p99",
    "search p50, 1 FAISS thread",
    "fixed-mix search p50",
    "BM25-only p50",
    "dense-only p50",
    "answer p50",
    "search+answer p50",
    "search+answer p95",
    "search+answer p99",
    "questions",
]
_SERVING_COLUMNS = [
    "passages",
    "loaded: anonymous",
    "loaded: file-backed",
    "after the questions: anonymous",
    "after the questions: file-backed",
    "index RAM (all after the questions)",
    "questions",
]
_MEMORY_COLUMNS = [
    "passages",
    "synthesis s",
    "BM25 build s",
    "BM25 RSS MiB",
    "BM25 disk MiB",
    "dense build s",
    "dense RSS MiB",
    "vectors MiB",
    "process RSS MiB",
]


class LatencySection:
    """The ``query`` section: a latency row and a memory row per collection size."""

    def __init__(self, ctx: QueryContext, section: Section) -> None:
        self.ctx = ctx
        self.section = section
        settings = ctx.settings
        self.latency = section.table(
            "Latency in ms per question (p50 / p95 / p99); search = HybridRetriever.retrieve (top "
            f"{settings.top_k}, fusion {settings.fusion}); answer = ExtractiveAnswerer.answer on "
            "its hits",
            _LATENCY_COLUMNS,
        )
        self.memory = section.table("Collection build and memory", _MEMORY_COLUMNS)
        self.serving = section.table(
            "A fresh process serving the saved build (`store.load`, then the questions through "
            "HybridRetriever): resident MiB beyond the interpreter and imports",
            _SERVING_COLUMNS,
        )
        table = dict(zip((q.question for q in ctx.questions), ctx.query_vectors, strict=True))
        self.embedder = LookupQueries(f"lookup:{ctx.base.dim}", table)

    def measure(self, n: int) -> None:
        ctx = self.ctx
        skip = too_big(n, "query")
        if skip:
            self.section.notes.append(skip)
            return
        ctx.log(f"query: {n:,} passages: synthesizing, BM25, dense index")
        collection = build_collection(n, ctx.base, ctx.settings, ctx.spec, ctx.opts, ctx.scratch)
        qs = [q.question for q in ctx.questions[: ctx.opts.queries]]
        ctx.log(f"query: {n:,}: {collection.kind}; timing {len(qs)} questions")
        t = time_questions(collection.data, self.embedder, ctx.settings, qs, ctx.opts.budget_s)
        self._add_rows(n, collection.kind, t, collection.figures)
        ctx.log(f"query: {n:,}: a fresh process loads the saved build")
        served = serving_memory.measure(
            collection.data, ctx.settings, qs, ctx.query_vectors[: len(qs)], ctx.scratch
        )
        self._add_serving(n, served)
        self.section.data[str(n)] = {**t, **collection.figures, "kind": collection.kind}
        self.section.targets += _query_targets(n, t, collection.figures, collection.kind)
        del collection
        gc.collect()

    def _add_rows(self, n: int, kind: str, t: dict, f: dict[str, float]) -> None:  # type: ignore[type-arg]
        s, total = t["search"], t["total"]
        self.latency.add(
            f"{n:,}",
            kind,
            *(ms(s, p) for p in ("p50", "p95", "p99")),
            ms(t["search_one_thread"], "p50"),
            ms(t["mix"], "p50"),
            ms(t["bm25"], "p50"),
            ms(t["dense"], "p50"),
            ms(t["answer"], "p50"),
            *(ms(total, p) for p in ("p50", "p95", "p99")),
            int(t["count"]["n"]),
        )
        self.memory.add(
            f"{n:,}",
            f"{f['synthesis_s']:.1f}",
            f"{f['bm25_s']:.1f}",
            f"{f['bm25_rss'] / MIB:,.0f}",
            f"{f['bm25_disk'] / MIB:,.0f}",
            f"{f['dense_s']:.1f}",
            f"{f['dense_rss'] / MIB:,.0f}",
            f"{f['vectors'] / MIB:,.0f}",
            f"{rss_bytes() / MIB:,.0f}",
        )

    def _add_serving(self, n: int, served: dict[str, Any]) -> None:
        if "error" in served:
            self.serving.add(f"{n:,}", *["—"] * 5, f"failed: {served['error']}")
            return
        base = served["imports"]
        loaded, answered = served["loaded"], served["answered"]

        def grown(at: dict[str, int], part: str) -> str:
            return f"{(at[part] - base[part]) / MIB:,.0f}"

        index = answered["total"] - base["total"]
        self.serving.add(
            f"{n:,}",
            grown(loaded, "anon"),
            grown(loaded, "file"),
            grown(answered, "anon"),
            grown(answered, "file"),
            f"{index / MIB:,.0f}",
            str(served["questions"]),
        )
        self.section.data[f"{n}/serving"] = served
        if n >= 1_000_000:
            self.section.targets.append(
                Target(
                    "1M passages: index RAM of a serving process ≤ 1 GB (keyword + vectors + "
                    "article and passage tables; texts are read from disk per hit)",
                    f"{index / MIB:,.0f} MiB",
                    index <= 1024 * MIB,
                )
            )

    def finish(self) -> None:
        self.section.notes += [
            "Collections: the dev benchmark's real passages first, then passages mixing the "
            "shuffled sentences of two random real passages (70% / 30% on average) with vectors "
            f"mixing their real embeddings plus Gaussian noise (σ = {synth.SIGMA}); see "
            "bench/synth.py.",
            "The retriever's embedder returns each question's precomputed real embedding: query "
            "encoding is not in these figures (see the backends section).",
            "BM25 is part of every search: it scores all passages (sparse matrix-vector product) "
            "and sorts them; BM25 RSS is the growth of the process while BM25Index.build ran and "
            "after.",
            *self.ctx.opts.notes,
        ]


def time_questions(
    data: IndexData, embedder: Embedder, settings: Settings, qs: list[str], budget_s: float
) -> dict[str, dict[str, float]]:
    """Percentiles (seconds) of hybrid search, its answer, both, and each stage alone."""

    def retriever(fusion: str) -> Retriever:
        return components.retriever(settings.model_copy(update={"fusion": fusion}), data, embedder)

    answerer = components.extractive(settings, data)
    hybrid, k = retriever(settings.fusion), settings.top_k
    hybrid.retrieve(qs[0], k)  # warm-up
    search_s: list[float] = []
    answer_s: list[float] = []

    def ask(i: int) -> None:
        clock = time.perf_counter()
        hits = hybrid.retrieve(qs[i], k)
        middle = time.perf_counter()
        answerer.answer(qs[i], hits)
        search_s.append(middle - clock)
        answer_s.append(time.perf_counter() - middle)

    total = latencies(ask, len(qs), budget_s)
    bm25_only, dense_only, mix = retriever("bm25"), retriever("dense"), retriever("mix")
    return {
        "search": percentiles(search_s),
        "answer": percentiles(answer_s),
        "total": percentiles(total),
        "bm25": percentiles(
            latencies(lambda i: bm25_only.retrieve(qs[i], k), len(qs), budget_s / 2)
        ),
        "dense": percentiles(
            latencies(lambda i: dense_only.retrieve(qs[i], k), len(qs), budget_s / 2)
        ),
        # the fixed-weight mix over the same candidates: what the learned fusion adds to it
        "mix": percentiles(latencies(lambda i: mix.retrieve(qs[i], k), len(qs), budget_s / 2)),
        "count": {"n": len(total)},
        "search_one_thread": _one_thread(hybrid, qs, k, budget_s / 2),
    }


def _one_thread(hybrid: Retriever, qs: list[str], k: int, budget_s: float) -> dict:  # type: ignore[type-arg]
    with indexes.faiss_threads(1):
        return percentiles(latencies(lambda i: hybrid.retrieve(qs[i], k), len(qs), budget_s))


def _query_targets(n: int, t: dict, f: dict, kind: str) -> list[Target]:  # type: ignore[type-arg]
    search, total = t["search"]["p50"], t["total"]["p50"]
    if n == 100_000:
        return [
            Target(
                "search p50 ≤ 15 ms at 100k passages", f"{search * 1000:.1f} ms", search <= 0.015
            ),
            Target(
                "extractive answer p50 ≤ 50 ms at 100k passages (search + answer)",
                f"{total * 1000:.1f} ms",
                total <= 0.050,
            ),
        ]
    if n == 1_000_000:
        ram = (f["bm25_rss"] + f["dense_rss"]) / MIB
        return [
            Target(
                "1M passages: search p50 ≤ 50 ms",
                f"{search * 1000:.1f} ms ({kind})",
                search <= 0.050,
            ),
            Target(
                "1M passages: index RAM ≤ 1 GB (BM25 + dense)",
                f"{ram:,.0f} MiB (BM25 {f['bm25_rss'] / MIB:,.0f} + {kind} "
                f"{f['dense_rss'] / MIB:,.0f})",
                ram <= 1024,
            ),
        ]
    return []
