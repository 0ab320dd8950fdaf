"""From cleaned articles to a complete index build, re-embedding only what changed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from qa.core.index_data import EmbeddedBuild, IndexData, Manifest
from qa.core.protocols import Chunker, DocumentTerms, Embedder, IndexBackend
from qa.core.types import Article, Chunk
from qa.index.passage_keys import passage_keys
from qa.index.store import FORMAT_VERSION
from qa.text import acronyms as acronym_lib
from qa.text.terms import document_terms
from qa.text.vietnamese import capitalized_names, fold

_EMBED_BATCH = 256
_NAME_WORDS = 6
_KEYWORD_STEP = 200  # chunks between two keyword-index progress reports

# (stage, done, total): "embed" and "keywords" report as they go
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def corpus_fingerprint(articles: list[Article]) -> str:
    joined = "\n".join(f"{a.id}:{a.fingerprint}" for a in sorted(articles, key=lambda a: a.id))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass
class _Plan:
    """The chunks of a build, with the vectors a previous build already has for them."""

    chunks: list[Chunk] = field(default_factory=list)
    vectors: list[np.ndarray | None] = field(default_factory=list)
    to_embed: list[int] = field(default_factory=list)


def build(
    articles: list[Article],
    *,
    chunker: Chunker,
    embedder: Embedder,
    backend: IndexBackend,
    chunk_size: int,
    chunk_overlap: int,
    k1: float,
    b: float,
    previous: EmbeddedBuild | None = None,
    progress: bool = False,
    on_progress: Progress | None = None,
) -> tuple[IndexData, IndexReport]:
    """Chunk, embed (only what changed since ``previous``), and index the articles;
    ``progress`` draws terminal bars, ``on_progress`` hears the same steps."""
    on_progress = on_progress or _no_progress
    report = IndexReport()
    clock = time.perf_counter()
    reusable = _reusable(previous, chunk_size, chunk_overlap, embedder.dim)
    plan = _plan(articles, chunker, reusable, report)
    if previous is not None:
        report.removed = sorted(set(previous.articles) - {a.id for a in articles})
    report.seconds["chunk"] = time.perf_counter() - clock

    clock = time.perf_counter()
    matrix = _embed(plan, embedder, progress, on_progress)
    report.embedded = len(plan.to_embed)
    report.seconds["embed"] = time.perf_counter() - clock

    clock = time.perf_counter()
    terms = _keyword_terms(plan.chunks, progress, on_progress)
    learned = acronym_lib.learn(a.text for a in articles)
    report.seconds["keyword_terms"] = time.perf_counter() - clock

    clock = time.perf_counter()
    by_id = {a.id: a for a in articles}
    dense, bm25 = backend.build(
        matrix,
        terms,
        keys=passage_keys(plan.chunks, by_id),
        previous=previous.directory if previous is not None else None,
        k1=k1,
        b=b,
    )
    report.seconds["index"] = time.perf_counter() - clock

    report.chunks = len(plan.chunks)
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dim=embedder.dim,
        chunk_count=len(plan.chunks),
        article_count=len(articles),
        corpus_fingerprint=corpus_fingerprint(articles),
        index_kind=dense.kind,
        backend=backend.name,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
    )
    return IndexData(
        manifest=manifest,
        articles=by_id,
        chunks=plan.chunks,
        vectors=matrix,
        dense=dense,
        bm25=bm25,
        acronyms=acronym_lib.merged(learned),
        names=name_phrases(articles),
    ), report


def _keyword_terms(
    chunks: list[Chunk], progress: bool, on_progress: Progress
) -> list[DocumentTerms]:
    terms = []
    for i, chunk in enumerate(tqdm(chunks, desc="Tách từ", unit="đoạn", disable=not progress)):
        if i % _KEYWORD_STEP == 0:
            on_progress("keywords", i, len(chunks))
        terms.append(document_terms(chunk.text))
    on_progress("keywords", len(chunks), len(chunks))
    return terms


def _plan(
    articles: list[Article],
    chunker: Chunker,
    reusable: dict[str, tuple[str, list[tuple[Chunk, np.ndarray]]]],
    report: IndexReport,
) -> _Plan:
    """Chunks of every article; an unchanged article keeps its chunks and vectors."""
    plan = _Plan()
    for article in articles:
        old = reusable.get(article.id)
        if old is not None and old[0] == article.fingerprint:
            report.unchanged.append(article.id)
            for chunk, vector in old[1]:
                plan.chunks.append(
                    Chunk(len(plan.chunks), article.id, chunk.start, chunk.end, article.text)
                )
                plan.vectors.append(vector)
            continue
        (report.changed if article.id in reusable else report.added).append(article.id)
        for start, end in chunker.chunk(article):
            plan.to_embed.append(len(plan.chunks))
            plan.chunks.append(Chunk(len(plan.chunks), article.id, start, end, article.text))
            plan.vectors.append(None)
    return plan


def _embed(plan: _Plan, embedder: Embedder, progress: bool, on_progress: Progress) -> np.ndarray:
    """Embed the planned chunks without a vector, in batches; the full matrix."""
    bar = tqdm(total=len(plan.to_embed), desc="Nhúng đoạn văn", unit="đoạn", disable=not progress)
    # in length order over the whole corpus, so each model batch pads to nearly its own length
    order = sorted(plan.to_embed, key=lambda i: plan.chunks[i].end - plan.chunks[i].start)
    on_progress("embed", 0, len(order))
    for offset in range(0, len(order), _EMBED_BATCH):
        batch = order[offset : offset + _EMBED_BATCH]
        texts = [plan.chunks[i].text for i in batch]
        for row, vector in zip(batch, embedder.embed_passages(texts), strict=True):
            plan.vectors[row] = vector
        bar.update(len(batch))
        on_progress("embed", offset + len(batch), len(order))
    bar.close()
    if not plan.vectors:
        return np.zeros((0, embedder.dim), np.float32)
    return np.stack(plan.vectors).astype(np.float32)  # type: ignore[arg-type]


def name_phrases(articles: list[Article]) -> frozenset[str]:
    """Folded sub-phrases of every capitalized name in the articles and their titles."""
    phrases: set[str] = set()
    for article in articles:
        for name in capitalized_names(f"{article.title}\n{article.text}"):
            syllables = fold(name).split()
            for i in range(len(syllables)):
                for j in range(i + 1, min(len(syllables), i + _NAME_WORDS) + 1):
                    phrases.add(" ".join(syllables[i:j]))
    return frozenset(phrases)


def _reusable(
    previous: EmbeddedBuild | None, chunk_size: int, chunk_overlap: int, dim: int
) -> dict[str, tuple[str, list[tuple[Chunk, np.ndarray]]]]:
    """Per article id: (fingerprint, its chunks with vectors) from a compatible previous build."""
    if previous is None:
        return {}
    m = previous.manifest
    if (m.chunk_size, m.chunk_overlap, m.dim) != (chunk_size, chunk_overlap, dim):
        return {}
    by_article: dict[str, tuple[str, list[tuple[Chunk, np.ndarray]]]] = {
        aid: (a.fingerprint, []) for aid, a in previous.articles.items()
    }
    for chunk in previous.chunks:
        by_article[chunk.article_id][1].append((chunk, previous.vectors[chunk.id]))
    return by_article
