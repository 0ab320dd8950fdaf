"""BM25 over accented and folded terms, kept as compact posting lists that load memory-mapped.

Both fields share one store of posting lists, and each distinct list is stored once: a folded
term with a single accented form in the corpus has that term's list, and rare terms met in the
same passages have the same list. A list holds the gaps between its passage ids (in the narrowest
of uint8, uint16 and uint32 that fits all of them, chosen per list) and the term's frequency in
each passage. A weight is computed when a question uses the term, with the float32 operations of
the BM25 formula, from the list's document frequency, the frequency and the passage's length, so
the scores are those of a float32 term-by-passage weight matrix.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.core.types import QueryTerms

if TYPE_CHECKING:  # scipy builds the lists; loading and searching them need numpy only
    from scipy import sparse

_TYPES = (np.uint8, np.uint16, np.uint32)
_LIMITS = np.array([np.iinfo(t).max for t in _TYPES], dtype=np.int64)
_ARRAYS = ("df", "width", "offset", "tf", "gaps8", "gaps16", "gaps32")
_FIELDS = ("accented", "folded")


def top_ids(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first, without sorting every passage."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def _narrowest(largest: np.ndarray | int) -> np.ndarray:
    """Index into ``_TYPES`` of the narrowest type holding each value."""
    return np.searchsorted(_LIMITS, largest)


class _Postings:
    """Posting lists: gaps between passage ids, per-list gap width, and term frequencies."""

    def __init__(
        self,
        df: np.ndarray,  # uint32, passages in each list
        width: np.ndarray,  # uint8, which of gaps8/16/32 holds the list
        offset: np.ndarray,  # int64, where the list starts in its gap array
        tf: np.ndarray,  # frequencies of all lists, list after list
        gaps8: np.ndarray,
        gaps16: np.ndarray,
        gaps32: np.ndarray,
    ) -> None:
        self.df, self.width, self.offset, self.tf = df, width, offset, tf
        self.gaps = (gaps8, gaps16, gaps32)
        self.start = np.cumsum(df, dtype=np.int64) - df  # where each list starts in ``tf``

    @classmethod
    def encode(cls, counts: sparse.csr_matrix) -> _Postings:
        """From a lists-by-passages frequency matrix whose rows have sorted passage ids."""
        df = np.diff(counts.indptr).astype(np.int64)
        ids = counts.indices.astype(np.int64)
        gaps = ids.copy()
        gaps[1:] -= ids[:-1]
        firsts = counts.indptr[:-1][df > 0]
        gaps[firsts] = ids[firsts]  # a list's first gap is its first passage id
        largest = np.zeros(len(df), dtype=np.int64)
        if len(gaps):
            largest[df > 0] = np.maximum.reduceat(gaps, firsts)
        width = _narrowest(largest).astype(np.uint8)
        offset = np.zeros(len(df), dtype=np.int64)
        streams = []
        for w, kind in enumerate(_TYPES):
            lists = np.flatnonzero(width == w)
            offset[lists] = np.cumsum(df[lists]) - df[lists]
            streams.append(gaps[np.repeat(width == w, df)].astype(kind))
        high = int(counts.data.max()) if counts.nnz else 0
        tf = counts.data.astype(_TYPES[int(_narrowest(high))])
        return cls(df.astype(np.uint32), width, offset, tf, *streams)

    def __len__(self) -> int:
        return len(self.df)

    def passages(self, row: int) -> np.ndarray:
        start = int(self.offset[row])
        ids = self.gaps[int(self.width[row])][start : start + int(self.df[row])].astype(np.intp)
        return np.cumsum(ids, out=ids)

    def frequencies(self, row: int) -> np.ndarray:
        start = int(self.start[row])
        return self.tf[start : start + int(self.df[row])]

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = (self.df, self.width, self.offset, self.tf, *self.gaps)
        return dict(zip(_ARRAYS, arrays, strict=True))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays().values()) + self.start.nbytes


def _frequencies(docs: Sequence[list[str]]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """The field's vocabulary and its term-by-passage frequency matrix (ids sorted per row)."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    rows = np.fromiter(
        (vocabulary.setdefault(t, len(vocabulary)) for d in docs for t in d),
        dtype=np.int32,
        count=int(lengths.sum()),
    )
    cols = np.repeat(np.arange(len(docs), dtype=np.int32), lengths)
    counts = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.uint32), (rows, cols)), shape=(len(vocabulary), len(docs))
    )
    counts.sum_duplicates()  # also sorts each row's passage ids
    return vocabulary, counts


def _norms(docs: Sequence[list[str]], k1: float, b: float) -> np.ndarray:
    """``k1 * (1 - b + b * length / average length)`` of each passage, as BM25 uses it."""
    lengths = np.asarray([len(d) for d in docs], dtype=np.float32)
    avg = float(lengths.mean()) if len(docs) and lengths.sum() else 1.0
    return (k1 * (1 - b + b * lengths / avg)).astype(np.float32)


def _distinct_rows(matrix: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(the first row of each distinct row, each row's number among the distinct rows)."""
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data

    def row_of(i: int) -> tuple[np.ndarray, np.ndarray]:
        return indices[indptr[i] : indptr[i + 1]], data[indptr[i] : indptr[i + 1]]

    seen: dict[bytes, int] = {}
    keep: list[int] = []
    number = np.empty(matrix.shape[0], dtype=np.int64)
    for row in range(matrix.shape[0]):
        ids, counts = row_of(row)
        digest = hashlib.blake2b(ids.tobytes() + counts.tobytes(), digest_size=16).digest()
        match = seen.get(digest)
        if match is not None:
            other_ids, other_counts = row_of(keep[match])
            # a hash collision must never merge two different lists
            if np.array_equal(ids, other_ids) and np.array_equal(counts, other_counts):
                number[row] = match
                continue
        else:
            seen[digest] = len(keep)
        number[row] = len(keep)
        keep.append(row)
    return np.asarray(keep, dtype=np.int64), number


class _Field:
    """One field: its terms (to list numbers) and passage length norms, over the shared lists."""

    def __init__(
        self, vocabulary: dict[str, int], norm: np.ndarray, postings: _Postings, k1: float
    ) -> None:
        self.vocabulary = vocabulary
        self.norm = norm
        self._postings = postings
        self._k1 = k1
        df = postings.df.astype(np.float32)
        self._weight_idf = np.log1p((len(norm) - df + 0.5) / (df + 0.5)).astype(np.float32)

    def idf(self, terms: list[str]) -> np.ndarray:
        """BM25 idf of each term; a term the corpus never uses gets the largest idf."""
        n_docs, df_all = len(self.norm), self._postings.df
        df = np.array(
            [int(df_all[self.vocabulary[t]]) if t in self.vocabulary else 0 for t in terms]
        )
        return np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)

    def scores(self, terms: list[str]) -> np.ndarray:
        out = np.zeros(len(self.norm), dtype=np.float32)
        ids = [self.vocabulary[t] for t in terms if t in self.vocabulary]
        if not ids:
            return out
        # A term repeated in the question counts again, as in the BM25 query-term sum; only the
        # lists of the question's terms are read, so cost follows their length, not the index's.
        unique, counts = np.unique(ids, return_counts=True)
        for row, count in zip(unique.tolist(), counts.tolist(), strict=True):
            passages = self._postings.passages(row)
            tf = self._postings.frequencies(row).astype(np.float32)
            weight = self._weight_idf[row] * tf * (self._k1 + 1) / (tf + self.norm.take(passages))
            if count > 1:
                weight *= np.float32(count)
            np.add.at(out, passages, weight)  # faster than fancy-index += in numpy 2
        return out


class BM25Index:
    """Scores every passage for a question from the posting lists of its terms."""

    def __init__(
        self,
        postings: _Postings,
        vocabularies: Sequence[dict[str, int]],
        norms: Sequence[np.ndarray],
        *,
        k1: float,
        b: float,
    ) -> None:
        self._postings = postings
        self._k1, self._b = k1, b
        self._accented, self._folded = (
            _Field(v, n, postings, k1) for v, n in zip(vocabularies, norms, strict=True)
        )

    @classmethod
    def build(
        cls, docs: Sequence[tuple[list[str], list[str]]], *, k1: float, b: float
    ) -> BM25Index:
        from scipy import sparse

        fields = [[d[0] for d in docs], [d[1] for d in docs]]
        vocabularies, matrices = zip(*(_frequencies(f) for f in fields), strict=True)
        stacked = sparse.vstack(matrices, format="csr")
        del matrices
        keep, number = _distinct_rows(stacked)
        postings = _Postings.encode(stacked[keep])
        first = [0, len(vocabularies[0])]
        renumbered = [
            {term: int(number[base + i]) for term, i in vocabulary.items()}
            for base, vocabulary in zip(first, vocabularies, strict=True)
        ]
        return cls(postings, renumbered, [_norms(f, k1, b) for f in fields], k1=k1, b=b)

    def __len__(self) -> int:
        return len(self._accented.norm)

    @property
    def folded_vocabulary(self) -> dict[str, int]:
        return self._folded.vocabulary

    @property
    def nbytes(self) -> int:
        """Bytes of the posting lists and norms (the vocabularies are Python dicts beside)."""
        return self._postings.nbytes + self._accented.norm.nbytes + self._folded.norm.nbytes

    def _fields(self) -> tuple[_Field, _Field]:
        return self._accented, self._folded

    def _field(self, query: QueryTerms) -> _Field:
        return self._folded if query.folded else self._accented

    def scores(self, query: QueryTerms) -> np.ndarray:
        """The score of every passage."""
        return self._field(query).scores(query.terms)

    def top(self, query: QueryTerms, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores = self.scores(query)
        ids = top_ids(scores, n)
        return scores[ids], ids

    def top_and_scores_of(
        self, query: QueryTerms, n: int, ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scores = self.scores(query)
        top = top_ids(scores, n)
        return scores[top], top, scores[np.asarray(ids, dtype=np.int64)]

    def idf(self, query: QueryTerms) -> np.ndarray:
        return self._field(query).idf(query.terms)

    def save(self, directory: Path) -> None:
        for name, array in self._postings.arrays().items():
            np.save(directory / f"bm25_{name}.npy", array)
        for name, field in zip(_FIELDS, self._fields(), strict=True):
            np.save(directory / f"bm25_{name}_norm.npy", field.norm)
        meta = {
            "k1": self._k1,
            "b": self._b,
            **{name: f.vocabulary for name, f in zip(_FIELDS, self._fields(), strict=True)},
        }
        (directory / "bm25_terms.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        """The saved index, its arrays memory-mapped (read from disk as questions use them)."""

        def array(name: str) -> np.ndarray:
            return np.load(directory / f"bm25_{name}.npy", mmap_mode="r")

        meta = json.loads((directory / "bm25_terms.json").read_text("utf-8"))
        postings = _Postings(*(array(name) for name in _ARRAYS))
        return cls(
            postings,
            [meta[name] for name in _FIELDS],
            [array(f"{name}_norm") for name in _FIELDS],
            k1=float(meta["k1"]),
            b=float(meta["b"]),
        )
