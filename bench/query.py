"""Sections 3a and 3b: search and answer latency, and vector index trade-offs, by collection size.

Collections are synthesized from real text (``bench.synth``). Search runs hoidap's own
``HybridRetriever`` and ``ExtractiveAnswerer`` over an ``IndexData`` built from the synthetic
passages (``BM25Index.build`` on their terms, ``FaissIndex`` on their vectors). The retriever's
embedder only looks up each question's precomputed vector (``LookupQueries``): query encoding is
measured in the backends section, so search latency here excludes it.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import indexes, synth
from bench.corpus import Question
from bench.machine import available_bytes, machine_info, rss_bytes
from bench.report import Section, Target
from bench.stats import latencies, percentiles
from qa import components
from qa.core.index_data import IndexData, Manifest
from qa.core.protocols import Retriever
from qa.core.settings import Settings
from qa.core.types import Article, Chunk
from qa.index.bm25 import BM25Index
from qa.index.dense import IndexSpec
from qa.index.store import FORMAT_VERSION

MIB = 1024**2
# rough bytes per passage each part needs while it runs (texts, terms, BM25 build, indexes)
_NEED = {"query": 12_000, "indexes": 6_000}


class LookupQueries:
    """An Embedder for benchmarks: each question's vector was computed beforehand."""

    def __init__(self, name: str, vectors: dict[str, np.ndarray]) -> None:
        self.name = name
        self._vectors = vectors
        self.dim = len(next(iter(vectors.values())))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vectors[text]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("LookupQueries only answers the benchmark's questions")


@dataclass
class Options:
    sizes: list[int]
    queries: int = 200
    budget_s: float = 60.0  # per latency loop
    hnsw_budget_s: float = 300.0
    train_sample: int = 200_000
    kinds: tuple[str, ...] = indexes.KINDS
    notes: list[str] = field(default_factory=list)


def _ms(p: dict[str, float], key: str) -> str:
    return f"{p[key] * 1000:.1f}"


def _too_big(n: int, part: str) -> str | None:
    free = available_bytes()
    need = n * _NEED[part]
    if free is not None and need > free:
        return (
            f"{n:,}: skipped, needs about {need / 1024**3:.1f} GiB, {free / 1024**3:.1f} GiB free"
        )
    return None


def index_data(
    texts: list[str], titles: list[str], bm25: BM25Index, vectors: np.ndarray, dense, base, settings
) -> IndexData:
    articles = {}
    chunks = []
    for i, (text, title) in enumerate(zip(texts, titles, strict=True)):
        aid = f"syn-{i}"
        articles[aid] = Article(id=aid, title=title, text=text)
        chunks.append(Chunk(i, aid, 0, len(text), text))
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model="synthetic",
        dim=base.dim,
        chunk_count=len(chunks),
        article_count=len(articles),
        corpus_fingerprint="synthetic",
        index_kind=dense.kind,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
    )
    return IndexData(manifest, articles, chunks, vectors, dense, bm25, base.acronyms)


def _dense_kind(n: int, spec: IndexSpec, vectors: np.ndarray, opts: Options) -> tuple[str, str]:
    kind = spec.resolve(n)
    if kind == "ivf":
        return f"ivf-{spec.ivf_codec}", ""
    if kind != "hnsw":
        return kind, ""
    estimate = indexes.hnsw_estimate(vectors, spec)
    if estimate <= opts.hnsw_budget_s:
        return "hnsw", ""
    return (
        f"ivf-{spec.ivf_codec}",
        f"{n:,}: HNSW (the `auto` choice) skipped: build estimated at {estimate:.0f} s from a "
        f"20k probe, over the {opts.hnsw_budget_s:.0f} s budget; IVF-{spec.ivf_codec.upper()} "
        "used instead",
    )


def run(
    settings: Settings,
    base: synth.Base,
    questions: list[Question],
    query_vectors: np.ndarray,
    opts: Options,
    parts: set[str],
    log: Callable[[str], None],
) -> list[Section]:
    info = machine_info()
    query = Section("query", info)
    latency = query.table(
        "Latency in ms per question (p50 / p95 / p99); search = HybridRetriever.retrieve (top "
        f"{settings.top_k}, fusion {settings.fusion}); answer = ExtractiveAnswerer.answer on its hits",
        [
            "passages",
            "dense index",
            "search p50",
            "search p95",
            "search p99",
            "search p50, 1 FAISS thread",
            "BM25-only p50",
            "dense-only p50",
            "answer p50",
            "search+answer p50",
            "search+answer p95",
            "search+answer p99",
            "questions",
        ],
    )
    memory = query.table(
        "Collection build and memory",
        [
            "passages",
            "synthesis s",
            "BM25 build s",
            "BM25 RSS MiB",
            "BM25 disk MiB",
            "dense build s",
            "dense RSS MiB",
            "vectors MiB",
            "process RSS MiB",
        ],
    )
    index_section = Section("indexes", info)
    kinds = index_section.table(
        "Per index kind: build time, memory and disk per passage, recall@10 against exact (flat) "
        f"search on {len(questions)} real dev-question embeddings, single-query latency",
        [
            "passages · index",
            "build s",
            "RSS bytes/passage",
            "disk bytes/passage",
            "recall@10 vs flat",
            "search p50 ms",
            "search p95 ms",
            "p50 ms, 1 FAISS thread",
            "note",
        ],
    )
    spec = components.index_spec(settings)
    scratch = Path(tempfile.mkdtemp(prefix="query-", dir=_bench_dir(settings)))
    table = {q.question: v for q, v in zip(questions, query_vectors, strict=True)}
    embedder = LookupQueries(f"lookup:{base.dim}", table)
    try:
        for n in opts.sizes:
            if "indexes" in parts:
                _index_kinds(n, base, query_vectors, spec, opts, scratch, kinds, index_section, log)
            if "query" in parts:
                _query_size(
                    n,
                    base,
                    questions,
                    embedder,
                    settings,
                    spec,
                    opts,
                    scratch,
                    (latency, memory),
                    query,
                    log,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    query.notes += [
        "Collections: the dev benchmark's real passages first, then passages mixing the shuffled "
        "sentences of two random real passages (70% / 30% on average) with vectors mixing their "
        f"real embeddings plus Gaussian noise (σ = {synth.SIGMA}); see bench/synth.py.",
        "The retriever's embedder returns each question's precomputed real embedding: query "
        "encoding is not in these figures (see the backends section).",
        "BM25 is part of every search: it scores all passages (sparse matrix-vector product) and "
        "sorts them; BM25 RSS is the growth of the process while BM25Index.build ran and after.",
        *opts.notes,
    ]
    index_section.notes += [
        "Recall@10 vs flat: share of the exact top 10 (inner product over all vectors) that the "
        "index returns; queries are the real embeddings of dev questions.",
        "RSS bytes/passage: growth of the process while the index was built and held "
        "(float32 vectors alone are 1,536 bytes at 384 dimensions); disk: faiss write_index size.",
        f"Settings: HNSW M={settings.hnsw_m}, efSearch={settings.hnsw_ef_search}; "
        f"IVF nprobe={settings.ivf_nprobe}, ~4·√n lists.",
        f"The synthetic vectors are mixtures of the {len(base.passages):,} real passage embeddings, so at 1M there "
        "are hundreds of near-ties around every real passage: harder for HNSW's bounded search "
        "(efSearch) than for IVF's list scans; recall on a real collection of that size may "
        "differ.",
    ]
    return [s for s, name in ((query, "query"), (index_section, "indexes")) if name in parts]


def _bench_dir(settings: Settings) -> Path:
    path = settings.data_dir / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _index_kinds(n, base, query_vectors, spec, opts, scratch, table, section, log) -> None:
    skip = _too_big(n, "indexes")
    if skip:
        section.notes.append(skip)
        return
    log(f"indexes: {n:,} passages")
    vectors = synth.vectors(base, synth.Plan.make(base, n))
    truth = indexes.exact_top(vectors, query_vectors, 10)
    for kind in opts.kinds:
        if kind == "hnsw" and n > indexes.HNSW_PROBE:
            estimate = indexes.hnsw_estimate(vectors, spec)
            if estimate > opts.hnsw_budget_s:
                table.add(
                    f"{n:,} · hnsw",
                    *["—"] * 7,
                    f"skipped: build estimated at {estimate:.0f} s (20k probe) > "
                    f"{opts.hnsw_budget_s:.0f} s budget",
                )
                continue
        log(f"indexes: {n:,} · {kind}")
        try:
            built = indexes.build(vectors, kind, spec, opts.train_sample, scratch)
        except RuntimeError as exc:  # FAISS refuses, e.g. PQ with fewer than 256 vectors
            reason = str(exc).splitlines()[-1].split("failed: ")[-1][:120]
            table.add(f"{n:,} · {kind}", *["—"] * 7, f"build failed: {reason}")
            continue
        found: list[np.ndarray] = []
        seconds = latencies(
            lambda i, b=built, found=found: found.append(b.index.search(query_vectors[i], 10)[1]),
            len(query_vectors),
            opts.budget_s,
        )
        recall = indexes.recall_at(found, truth, 10)
        p = percentiles(seconds)
        with indexes.faiss_threads(1):
            one = percentiles(
                latencies(
                    lambda i, b=built: b.index.search(query_vectors[i], 10),
                    len(query_vectors),
                    opts.budget_s / 2,
                )
            )
        table.add(
            f"{n:,} · {kind}",
            f"{built.seconds:.1f}",
            f"{built.rss_delta / n:,.0f}",
            f"{built.disk / n:,.0f}",
            f"{recall:.3f}",
            _ms(p, "p50"),
            _ms(p, "p95"),
            _ms(one, "p50"),
            built.note
            + (f" ({len(seconds)} queries)" if len(seconds) < len(query_vectors) else ""),
        )
        section.data[f"{n}/{kind}"] = {
            "build_s": built.seconds,
            "rss": built.rss_delta,
            "disk": built.disk,
            "recall10": recall,
            **p,
            "p50_one_thread": one["p50"],
        }
        if n >= 1_000_000 and kind != "flat":
            ram = built.rss_delta / MIB
            section.targets.append(
                Target(
                    f"1M passages, {kind}: ≤ 1 GB dense index RAM, recall@10 vs flat ≥ 0.95",
                    f"{ram:,.0f} MiB, recall {recall:.3f}",
                    ram <= 1024 and recall >= 0.95,
                )
            )
        del built
        gc.collect()
    del vectors


@dataclass
class Collection:
    data: IndexData
    kind: str
    figures: dict[str, float]  # seconds and bytes of each build step


def build_collection(
    n: int, base: synth.Base, settings: Settings, spec: IndexSpec, opts: Options, scratch: Path
) -> Collection:
    """A synthetic ``IndexData`` of ``n`` passages, built with the library's own indexes."""
    figures: dict[str, float] = {}
    clock = time.perf_counter()
    plan = synth.Plan.make(base, n)
    texts, terms, titles = synth.texts_and_terms(base, plan)
    figures["synthesis_s"] = time.perf_counter() - clock
    gc.collect()
    before = rss_bytes()
    clock = time.perf_counter()
    bm25 = BM25Index.build(terms, k1=settings.bm25_k1, b=settings.bm25_b)
    figures["bm25_s"] = time.perf_counter() - clock
    del terms
    gc.collect()
    figures["bm25_rss"] = rss_bytes() - before  # what stays once the term lists are freed
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        bm25.save(Path(tmp))
        figures["bm25_disk"] = sum(f.stat().st_size for f in Path(tmp).iterdir())
    vectors = synth.vectors(base, plan)
    kind, note = _dense_kind(n, spec, vectors, opts)
    if note:
        opts.notes.append(note)
    built = indexes.build(vectors, kind, spec, opts.train_sample, scratch)
    figures |= {"dense_s": built.seconds, "dense_rss": built.rss_delta, "vectors": vectors.nbytes}
    data = index_data(texts, titles, bm25, vectors, built.index, base, settings)
    return Collection(data, kind, figures)


def time_questions(
    data: IndexData, embedder: LookupQueries, settings: Settings, qs: list[str], budget_s: float
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
    bm25_only, dense_only = retriever("bm25"), retriever("dense")
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
        "count": {"n": len(total)},
        "search_one_thread": _one_thread(hybrid, qs, k, budget_s / 2),
    }


def _one_thread(hybrid: Retriever, qs: list[str], k: int, budget_s: float) -> dict:  # type: ignore[type-arg]
    with indexes.faiss_threads(1):
        return percentiles(latencies(lambda i: hybrid.retrieve(qs[i], k), len(qs), budget_s))


def _query_size(n, base, questions, embedder, settings, spec, opts, scratch, tables, section, log):  # type: ignore[no-untyped-def]
    skip = _too_big(n, "query")
    if skip:
        section.notes.append(skip)
        return
    log(f"query: {n:,} passages: synthesizing, BM25, dense index")
    collection = build_collection(n, base, settings, spec, opts, scratch)
    qs = [q.question for q in questions[: opts.queries]]
    log(f"query: {n:,}: {collection.kind}; timing {len(qs)} questions")
    t = time_questions(collection.data, embedder, settings, qs, opts.budget_s)
    f = collection.figures
    latency, memory = tables
    s, total = t["search"], t["total"]
    latency.add(
        f"{n:,}",
        collection.kind,
        *(_ms(s, p) for p in ("p50", "p95", "p99")),
        _ms(t["search_one_thread"], "p50"),
        _ms(t["bm25"], "p50"),
        _ms(t["dense"], "p50"),
        _ms(t["answer"], "p50"),
        *(_ms(total, p) for p in ("p50", "p95", "p99")),
        int(t["count"]["n"]),
    )
    memory.add(
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
    section.data[str(n)] = {**t, **f, "kind": collection.kind}
    section.targets += _query_targets(n, t, f, collection.kind)
    del collection
    gc.collect()


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
