"""Hybrid retrieval: BM25 and dense candidates, fused; every hit keeps each stage's score."""

from __future__ import annotations

from typing import Literal

import numpy as np

from qa.core.index_data import IndexData
from qa.core.protocols import Embedder
from qa.core.types import Hit, QueryTerms
from qa.text.terms import query_terms

Fusion = Literal["mix", "rrf", "bm25", "dense"]
_RRF_K = 60


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


class HybridRetriever:
    """BM25 over segmented, normalized terms plus dense search, fused.

    ``mix`` (the default) min-max normalizes both stages' scores over the union of their
    candidates and adds them with ``dense_weight``; ``rrf`` is reciprocal-rank fusion. A passage
    that the dense search did not return gets its lowest candidate score; the BM25 score of
    every candidate is exact, since the keyword index gives its top and the scores of the dense
    candidates in one call.
    """

    def __init__(
        self,
        data: IndexData,
        embedder: Embedder,
        *,
        fusion: Fusion,
        dense_weight: float,
        candidates: int,
    ) -> None:
        if not 0.0 <= dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be in [0, 1], got {dense_weight}")
        if candidates < 1:
            raise ValueError(f"candidates must be positive, got {candidates}")
        self._data = data
        self._embedder = embedder
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.candidates = candidates

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
        dense_scores, dense_ids = self._dense(query, pool)
        if self.fusion == "dense":
            return [
                self._hit(int(i), r, float(score), dense=float(score))
                for r, (score, i) in enumerate(zip(dense_scores[:k], dense_ids[:k], strict=True))
            ]

        top_scores, top_ids, of_dense = self._data.bm25.top_and_scores_of(
            self._terms(query), pool, dense_ids.tolist()
        )
        bm25_by_id = dict(zip(dense_ids.tolist(), of_dense.tolist(), strict=True))
        bm25_top = [i for i, s in zip(top_ids.tolist(), top_scores.tolist(), strict=True) if s > 0]
        bm25_by_id.update(zip(top_ids.tolist(), top_scores.tolist(), strict=True))
        dense_by_id = dict(zip(dense_ids.tolist(), dense_scores.tolist(), strict=True))
        union = list(dict.fromkeys([*dense_by_id, *bm25_top]))
        floor = min(dense_by_id.values(), default=0.0)
        d = np.array([dense_by_id.get(i, floor) for i in union], dtype=np.float32)
        b = np.array([bm25_by_id[i] for i in union], dtype=np.float32)
        if self.fusion == "rrf":
            fused = self._rrf(union, list(dense_by_id), bm25_top)
        else:
            fused = self.dense_weight * _minmax(d) + (1 - self.dense_weight) * _minmax(b)
        order = np.argsort(-fused, kind="stable")[:k]
        return [
            self._hit(union[j], rank, float(fused[j]), dense=float(d[j]), bm25=float(b[j]))
            for rank, j in enumerate(order)
        ]

    def _terms(self, query: str) -> QueryTerms:
        return query_terms(query, self._data.acronyms, self._data.bm25.folded_vocabulary)

    def _dense(self, query: str, pool: int) -> tuple[np.ndarray, np.ndarray]:
        return self._data.dense.search(self._embedder.embed_query(query), pool)

    @staticmethod
    def _rrf(union: list[int], dense_ids: list[int], bm25_ids: list[int]) -> np.ndarray:
        dense_rank = {i: r for r, i in enumerate(dense_ids)}
        bm25_rank = {i: r for r, i in enumerate(bm25_ids)}
        return np.array(
            [
                sum(
                    1.0 / (_RRF_K + 1 + ranks[i]) for ranks in (dense_rank, bm25_rank) if i in ranks
                )
                for i in union
            ],
            dtype=np.float32,
        )

    def _hit(self, chunk_id: int, rank: int, score: float, **scores: float) -> Hit:
        return Hit(chunk=self._data.chunks[chunk_id], score=score, rank=rank + 1, scores=scores)
