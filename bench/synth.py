"""Large collections made from real Vietnamese text, for the query and index sections.

*Base*: the dev benchmark's articles cut by hoidap's chunker into real passages; each passage's
sentences with their BM25 terms (``qa.text.terms.document_terms``, computed once per sentence),
and one real embedding per passage.

*Collection of n passages*: the first ``min(n, M)`` are the M real passages. Every further one
mixes two random real passages p and q: a share ``w`` (uniform in 0.5–0.9) of p's sentences and
``1 - w`` of q's, shuffled together (so BM25 sees real Vietnamese words in new combinations),
and its vector is ``normalize(w·E[p] + (1-w)·E[q] + σ·g)`` with Gaussian noise g (σ = 0.1 of a
unit vector). The vectors depend only on the seed, not on the texts, so the index section can
make them without the texts.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.corpus import passages
from qa.core.protocols import Embedder
from qa.core.settings import Settings
from qa.core.types import Article
from qa.text import acronyms as acronym_lib
from qa.text.sentences import sentence_spans
from qa.text.terms import document_terms

SIGMA = 0.1
_BLOCK = 100_000


@dataclass
class Base:
    sentences: list[str]
    terms: list[tuple[list[str], list[str]]]  # (accented, folded) per sentence
    passages: list[list[int]]  # sentence ids of each real passage
    titles: list[str]
    vectors: np.ndarray  # one real embedding per passage
    acronyms: dict[str, str]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def build_base(
    articles: list[Article],
    settings: Settings,
    embedder: Embedder,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> Base:
    sentences: list[str] = []
    groups: list[list[int]] = []
    titles: list[str] = []
    texts: list[str] = []
    spans_of: dict[str, list[tuple[int, int, int]]] = {}
    for article in articles:
        spans = spans_of.setdefault(article.id, [])
        for start, end in sentence_spans(article.text):
            spans.append((start, end, len(sentences)))
            sentences.append(article.text[start:end])
    for article, start, end in passages(articles, settings):
        ids = [i for s, e, i in spans_of[article.id] if s >= start and e <= end]
        if ids:
            groups.append(ids)
            titles.append(article.title)
            texts.append(article.text[start:end])
    log(f"base: {len(texts)} real passages, {len(sentences)} sentences")
    terms = [document_terms(s) for s in sentences]
    vectors = _vectors(texts, embedder, cache_dir, log)
    acronyms = acronym_lib.merged(acronym_lib.learn(a.text for a in articles))
    return Base(sentences, terms, groups, titles, vectors, acronyms)


def _vectors(
    texts: list[str], embedder: Embedder, cache_dir: Path | None, log: Callable[[str], None]
) -> np.ndarray:
    def compute(texts: list[str]) -> np.ndarray:
        log(f"base: embedding {len(texts)} real passages with {embedder.name} (cached afterwards)")
        return embedder.embed_passages(texts)

    return cached(cache_dir, "base", embedder.name, texts, compute)


def query_vectors(
    questions: list[str], embedder: Embedder, cache_dir: Path | None = None
) -> np.ndarray:
    """Real query embeddings of the questions (cached: the retriever only looks them up)."""
    return cached(
        cache_dir,
        "queries",
        embedder.name,
        questions,
        lambda qs: np.stack([embedder.embed_query(q) for q in qs]),
    )


def cached(
    cache_dir: Path | None,
    kind: str,
    model: str,
    texts: list[str],
    compute: Callable[[list[str]], np.ndarray],
) -> np.ndarray:
    """``compute(texts)`` as float32, kept in ``cache_dir`` under a hash of model and texts."""
    key = hashlib.sha256("\x00".join([model, *texts]).encode()).hexdigest()[:16]
    path = cache_dir / f"{kind}-vectors-{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        return np.load(path)
    vectors = np.asarray(compute(texts), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


@dataclass
class Plan:
    """Which real passages each synthetic passage mixes, and how much of each."""

    p: np.ndarray
    q: np.ndarray
    w: np.ndarray

    @classmethod
    def make(cls, base: Base, n: int, seed: int = 6) -> Plan:
        m = len(base.passages)
        real = min(n, m)
        rng = np.random.default_rng(seed)
        extra = n - real
        p = np.concatenate([np.arange(real), rng.integers(0, m, extra)])
        q = np.concatenate([np.arange(real), rng.integers(0, m, extra)])
        w = np.concatenate([np.ones(real), rng.uniform(0.5, 0.9, extra)]).astype(np.float32)
        return cls(p, q, w)

    def __len__(self) -> int:
        return len(self.p)


def vectors(base: Base, plan: Plan, seed: int = 6) -> np.ndarray:
    """The unit vectors of the collection, made block by block."""
    n, dim = len(plan), base.dim
    out = np.empty((n, dim), dtype=np.float32)
    rng = np.random.default_rng(seed + 1)
    for start in range(0, n, _BLOCK):
        end = min(n, start + _BLOCK)
        w = plan.w[start:end, None]
        block = w * base.vectors[plan.p[start:end]] + (1 - w) * base.vectors[plan.q[start:end]]
        noise = rng.standard_normal((end - start, dim), dtype=np.float32) / np.sqrt(dim)
        block += SIGMA * noise * (plan.w[start:end, None] < 1)  # real passages stay exact
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:end] = block
    return out


def texts_and_terms(
    base: Base, plan: Plan, seed: int = 6
) -> tuple[list[str], list[tuple[list[str], list[str]]], list[str]]:
    """Text, BM25 terms and title of each passage of the collection."""
    rng = random.Random(seed)
    texts: list[str] = []
    terms: list[tuple[list[str], list[str]]] = []
    titles: list[str] = []
    for p, q, w in zip(plan.p.tolist(), plan.q.tolist(), plan.w.tolist(), strict=True):
        ids = base.passages[p]
        if w < 1.0:
            own, other = base.passages[p], base.passages[q]
            ids = rng.sample(own, max(1, round(w * len(own)))) + rng.sample(
                other, max(1, round((1 - w) * len(other)))
            )
            rng.shuffle(ids)
        texts.append(" ".join(base.sentences[i] for i in ids))
        accented: list[str] = []
        folded: list[str] = []
        for i in ids:
            accented += base.terms[i][0]
            folded += base.terms[i][1]
        terms.append((accented, folded))
        titles.append(base.titles[p])
    return texts, terms, titles
