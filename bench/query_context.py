"""What the query-latency and index-kind sections share: their options, the typed context of
one run, and synthetic collections built with the library's own indexes."""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import indexes, synth
from bench.corpus import Question
from bench.machine import available_bytes, rss_bytes
from qa.core.index_data import IndexData, Manifest
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
    kinds: tuple[str, ...] = indexes.KINDS
    notes: list[str] = field(default_factory=list)


@dataclass
class QueryContext:
    """One run of the sections: settings, the real base, the questions and their vectors."""

    settings: Settings
    base: synth.Base
    questions: list[Question]
    query_vectors: np.ndarray
    opts: Options
    spec: IndexSpec
    scratch: Path
    log: Callable[[str], None]


def ms(p: dict[str, float], key: str) -> str:
    return f"{p[key] * 1000:.1f}"


def too_big(n: int, part: str) -> str | None:
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


def dense_kind(n: int, spec: IndexSpec, vectors: np.ndarray, opts: Options) -> tuple[str, str]:
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


def bench_dir(settings: Settings) -> Path:
    path = settings.data_dir / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    kind, note = dense_kind(n, spec, vectors, opts)
    if note:
        opts.notes.append(note)
    built = indexes.build(vectors, kind, spec, scratch)
    figures |= {"dense_s": built.seconds, "dense_rss": built.rss_delta, "vectors": vectors.nbytes}
    data = index_data(texts, titles, bm25, vectors, built.index, base, settings)
    return Collection(data, kind, figures)
