"""BM25 over accented and folded terms, stored as sparse term-by-passage weight matrices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from qa.core.types import QueryTerms


def top_ids(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first, without sorting every passage."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


@dataclass
class _Field:
    vocabulary: dict[str, int]
    weights: sparse.csr_matrix  # terms x passages, BM25 weight of each (term, passage)

    @classmethod
    def build(cls, docs: Sequence[list[str]], k1: float, b: float) -> _Field:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for doc_id, terms in enumerate(docs):
            for term in terms:
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                cols.append(doc_id)
        n_docs = len(docs)
        tf = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(vocabulary), n_docs),
        )
        tf.sum_duplicates()
        lengths = np.asarray([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if n_docs and lengths.sum() else 1.0
        df = np.diff(tf.indptr).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = k1 * (1 - b + b * lengths / avg)
        data = tf.data
        doc_of = tf.indices
        term_of = np.repeat(np.arange(len(vocabulary)), np.diff(tf.indptr))
        tf.data = (idf[term_of] * data * (k1 + 1) / (data + norm[doc_of])).astype(np.float32)
        return cls(vocabulary, tf)

    def idf(self, terms: list[str]) -> np.ndarray:
        """BM25 idf of each term; a term the corpus never uses gets the largest idf."""
        n_docs = self.weights.shape[1]
        df_all = np.diff(self.weights.indptr)
        df = np.array([df_all[self.vocabulary[t]] if t in self.vocabulary else 0 for t in terms])
        return np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)

    def scores(self, terms: list[str]) -> np.ndarray:
        ids = [self.vocabulary[t] for t in terms if t in self.vocabulary]
        if not ids:
            return np.zeros(self.weights.shape[1], dtype=np.float32)
        # A term repeated in the question counts again, as in the BM25 query-term sum; only the
        # rows of the question's terms are touched, so cost follows their postings, not the index.
        unique, counts = np.unique(ids, return_counts=True)
        rows = self.weights[unique]
        return np.asarray(rows.T @ counts.astype(np.float32), dtype=np.float32).ravel()


class BM25Index:
    """Scores every passage for a question in one sparse matrix-vector product."""

    def __init__(self, accented: _Field, folded: _Field) -> None:
        self._accented = accented
        self._folded = folded
        # the last question's scores: hybrid retrieval asks for its top and then for the
        # scores of the dense candidates, over the same terms
        self._last: tuple[tuple[bool, tuple[str, ...]], np.ndarray] | None = None

    @classmethod
    def build(
        cls, docs: Sequence[tuple[list[str], list[str]]], *, k1: float, b: float
    ) -> BM25Index:
        return cls(
            _Field.build([d[0] for d in docs], k1, b), _Field.build([d[1] for d in docs], k1, b)
        )

    def __len__(self) -> int:
        return int(self._accented.weights.shape[1])

    @property
    def folded_vocabulary(self) -> dict[str, int]:
        return self._folded.vocabulary

    def _field(self, query: QueryTerms) -> _Field:
        return self._folded if query.folded else self._accented

    def scores(self, query: QueryTerms) -> np.ndarray:
        """The score of every passage."""
        key = (query.folded, tuple(query.terms))
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        scores = self._field(query).scores(query.terms)
        self._last = (key, scores)
        return scores

    def top(self, query: QueryTerms, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores = self.scores(query)
        ids = top_ids(scores, n)
        return scores[ids], ids

    def scores_of(self, query: QueryTerms, ids: Sequence[int]) -> np.ndarray:
        return self.scores(query)[np.asarray(ids, dtype=np.int64)]

    def idf(self, query: QueryTerms) -> np.ndarray:
        return self._field(query).idf(query.terms)

    def save(self, directory: Path) -> None:
        for name, field in (("accented", self._accented), ("folded", self._folded)):
            sparse.save_npz(directory / f"bm25_{name}.npz", field.weights, compressed=False)
            (directory / f"bm25_{name}_vocab.json").write_text(
                json.dumps(field.vocabulary, ensure_ascii=False), encoding="utf-8"
            )

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        fields = []
        for name in ("accented", "folded"):
            weights = sparse.load_npz(directory / f"bm25_{name}.npz").tocsr()
            vocabulary = json.loads((directory / f"bm25_{name}_vocab.json").read_text("utf-8"))
            fields.append(_Field(vocabulary, weights))
        return cls(*fields)
