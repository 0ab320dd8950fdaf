"""Hybrid retrieval: BM25 and dense candidates, fused; every hit keeps each stage's score."""

from __future__ import annotations

from typing import Literal

import numpy as np

from qa.core.index_data import IndexData
from qa.core.protocols import Embedder
from qa.core.types import Hit, QueryTerms
from qa.retrieve.fusion_model import Candidates, FusionModel
from qa.text.terms import query_terms

Fusion = Literal["learned", "mix", "rrf", "bm25", "dense"]
_RRF_K = 60


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


class HybridRetriever:
    """BM25 over segmented, normalized terms plus dense search, fused.

    ``mix`` (the default) min-max normalizes both stages' scores over the union of their
    candidates and adds them with ``dense_weight``; ``learned`` scores that union with
    ``fusion_model`` (``qa.retrieve.fusion_model``); ``rrf`` is reciprocal-rank fusion. A
    passage that the dense search did not return gets its lowest candidate score; the BM25
    score of every candidate is exact, since the keyword index gives its top and the scores of
    the dense candidates in one call.
    """

    def __init__(
        self,
        data: IndexData,
        embedder: Embedder,
        *,
        fusion: Fusion,
        dense_weight: float,
        candidates: int,
        fusion_model: FusionModel | None = None,
    ) -> None:
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be in [0, 1], got {dense_weight}")
        if candidates < 1:
            raise ValueError(f"candidates must be positive, got {candidates}")
        if fusion == "learned" and fusion_model is None:
            raise ValueError("the learned fusion needs a fusion_model")
        self._data = data
        self._embedder = embedder
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.candidates = candidates
        self.fusion_model = fusion_model

    def retrieve(self, query: str, k: int) -> list[Hit]:
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        n = len(self._data.chunks)
        if n == 0:
            return []
        pool = min(n, max(self.candidates, k))
        if self.fusion == "bm25":
            bm25_scores, bm25_ids = self._data.bm25.top(self._terms(query), k)
            return [
                self._hit(int(i), r, float(s), bm25=float(s))
                for r, (s, i) in enumerate(zip(bm25_scores, bm25_ids, strict=True))
            ]
        if self.fusion == "dense":
            dense_scores, dense_ids = self._dense(query, pool)
            return [
                self._hit(int(i), r, float(score), dense=float(score))
                for r, (score, i) in enumerate(zip(dense_scores[:k], dense_ids[:k], strict=True))
            ]
        union, c = self.candidate_lists(query, pool)
        if self.fusion == "rrf":
            fused = self._rrf(c)
        elif self.fusion == "learned":
            assert self.fusion_model is not None  # checked in __init__
            fused = self.fusion_model.score(c)
        else:
            fused = self.dense_weight * _minmax(c.dense) + (1 - self.dense_weight) * _minmax(c.bm25)
        order = np.argsort(-fused, kind="stable")[:k]
        return [
            self._hit(
                union[j], rank, float(fused[j]), dense=float(c.dense[j]), bm25=float(c.bm25[j])
            )
            for rank, j in enumerate(order)
        ]

    def candidate_lists(self, query: str, pool: int) -> tuple[list[int], Candidates]:
        """Passage ids of the union of both stages' top ``pool`` candidates, with their scores
        and ranks (what every fusion reads)."""
        terms = self._terms(query)
        dense_scores, dense_ids = self._dense(query, pool)
        top_scores, top_ids, of_dense = self._data.bm25.top_and_scores_of(
            terms, pool, dense_ids.tolist()
        )
        bm25_by_id = dict(zip(dense_ids.tolist(), of_dense.tolist(), strict=True))
        bm25_by_id.update(zip(top_ids.tolist(), top_scores.tolist(), strict=True))
        bm25_top = [i for i, s in zip(top_ids.tolist(), top_scores.tolist(), strict=True) if s > 0]
        dense_by_id = dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
        union = list(dict.fromkeys([*dense_by_id, *bm25_top]))
        floor = min(dense_by_id.values(), default=0.0)
        dense_rank = {i: r for r, i in enumerate(dense_by_id)}
        bm25_rank = {i: r for r, i in enumerate(bm25_top)}
        return union, Candidates(
            dense=np.array([dense_by_id.get(i, floor) for i in union], dtype=np.float32),
            bm25=np.array([bm25_by_id[i] for i in union], dtype=np.float32),
            dense_rank=np.array([dense_rank.get(i, pool) for i in union]),
            bm25_rank=np.array([bm25_rank.get(i, pool) for i in union]),
            idf=self._data.bm25.idf(terms) if terms.terms else np.zeros(0, np.float32),
            pool=pool,
            passages=len(self._data.chunks),
        )

    def _terms(self, query: str) -> QueryTerms:
        return query_terms(query, self._data.acronyms, self._data.bm25.folded_vocabulary)

    def _dense(self, query: str, pool: int) -> tuple[np.ndarray, np.ndarray]:
        return self._data.dense.search(self._embedder.embed_query(query), pool)

    @staticmethod
    def _rrf(c: Candidates) -> np.ndarray:
        def part(ranks: np.ndarray) -> np.ndarray:
            return np.where(ranks < c.pool, 1.0 / (_RRF_K + 1 + ranks), 0.0)

        return (part(c.dense_rank) + part(c.bm25_rank)).astype(np.float32)

    def _hit(self, chunk_id: int, rank: int, score: float, **scores: float) -> Hit:
        return Hit(chunk=self._data.chunks[chunk_id], score=score, rank=rank + 1, scores=scores)
