"""FAISS vector index: normalized vectors, inner product (= cosine), ids are row positions.

Flat (exact) for small collections; past a size threshold IVF (flat, SQ8 or PQ codes; the
``auto`` choice, with SQ8) or HNSW.
A saved index loads memory-mapped (every kind: FAISS maps the flat codes, HNSW's stored vectors
and IVF's lists), so start-up does not read the vectors and processes serving one build share
their pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from qa.core.errors import IndexCorruptError

Kind = Literal["flat", "hnsw", "ivf"]
# read-only: the build folder is never written again once it is published
_MMAP = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY


@dataclass(frozen=True)
class IndexSpec:
    """How to build and search a FAISS index; made from the settings by ``qa.components``."""

    kind: Literal["auto", "flat", "hnsw", "ivf"]
    approx_threshold: int
    hnsw_m: int
    hnsw_ef_search: int
    ivf_codec: Literal["flat", "sq8", "pq"]
    ivf_nprobe: int  # 0: ``auto_nprobe``

    def resolve(self, n: int) -> Kind:
        if self.kind != "auto":
            return self.kind
        return "flat" if n < self.approx_threshold else "ivf"

    def nprobe(self, lists: int) -> int:
        return min(lists, self.ivf_nprobe or auto_nprobe(lists))


def auto_nprobe(lists: int) -> int:
    """About 3·√lists: recall@10 against exact search 0.95–0.96 at 100k and 1M SQ8 passages
    (real dev-question vectors, ``qa bench --only indexes``); a fixed share of the lists would
    probe too few of them at 100k or too many at 1M."""
    return max(1, round(3 * np.sqrt(lists)))


def ivf_lists(n: int) -> int:
    # about 4*sqrt(n) lists, and at least ~39 training points per list as FAISS advises
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


_TRAIN_PER_LIST = 50


def _training_rows(n: int, lists: int) -> np.ndarray | None:
    """A seeded sample of 50 vectors per list to train IVF on (None: all of them): k-means
    costs vectors × lists × iterations, and the 1M bench rows (recall@10 0.959) were trained
    on such a sample."""
    size = _TRAIN_PER_LIST * lists
    if n <= size:
        return None
    return np.sort(np.random.default_rng(0).choice(n, size, replace=False))


class FaissIndex:
    """A thin wrapper that remembers its kind and applies search-time parameters."""

    def __init__(
        self, index: faiss.Index, kind: Kind, spec: IndexSpec, mapped: bool = False
    ) -> None:
        self._index = index
        self.kind = kind
        self._spec = spec
        self._mapped = mapped  # the codes are a view of the file: FAISS aborts on add
        self._apply_search_params()

    @classmethod
    def build(cls, vectors: np.ndarray, spec: IndexSpec) -> FaissIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        kind = spec.resolve(n)
        index: faiss.Index
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = max(40, spec.hnsw_m * 2)
        else:
            codec = {"flat": "Flat", "sq8": "SQ8", "pq": f"PQ{_pq_subquantizers(dim)}"}[
                spec.ivf_codec
            ]
            lists = ivf_lists(n)
            index = faiss.index_factory(dim, f"IVF{lists},{codec}", faiss.METRIC_INNER_PRODUCT)
            rows = _training_rows(n, lists)
            index.train(vectors if rows is None else vectors[rows])
        if n:
            index.add(vectors)
        return cls(index, kind, spec)

    def _apply_search_params(self) -> None:
        if self.kind == "hnsw":
            faiss.downcast_index(self._index).hnsw.efSearch = self._spec.hnsw_ef_search
        elif self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self._index)
            ivf.nprobe = self._spec.nprobe(ivf.nlist)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows (an IVF index must have been trained at build time); a memory-mapped
        index is copied into memory first."""
        if not len(vectors):
            return
        if self._mapped:
            self._index = faiss.deserialize_index(faiss.serialize_index(self._index))
            self._mapped = False
            self._apply_search_params()
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, ids = self._index.search(query, k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: Kind, spec: IndexSpec) -> FaissIndex:
        try:
            index = faiss.read_index(str(path), _MMAP)
        except RuntimeError as exc:
            raise IndexCorruptError(f"Tệp chỉ mục vector hỏng: {path}") from exc
        return cls(index, kind, spec, mapped=True)


class FaissBackend:
    """The ``VectorBackend`` of FAISS indexes built and searched with one ``IndexSpec``."""

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec

    def build(self, vectors: np.ndarray) -> FaissIndex:
        return FaissIndex.build(vectors, self.spec)

    def load(self, path: Path, kind: str) -> FaissIndex:
        if kind not in ("flat", "hnsw", "ivf"):
            raise IndexCorruptError(f"Loại chỉ mục vector không rõ: {kind!r}")
        return FaissIndex.load(path, kind, self.spec)  # type: ignore[arg-type]


def _pq_subquantizers(dim: int) -> int:
    """The largest of 48/32/24/16/8 sub-quantizers that divides the dimension."""
    return next(m for m in (48, 32, 24, 16, 8, 4, 2, 1) if dim % m == 0)
