"""The local backend: a FAISS index and an in-process BM25, both files in the build folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.core.protocols import DocumentTerms, VectorBackend
from qa.index.bm25 import BM25Index
from qa.index.dense import FaissIndex


class LocalBackend:
    """``IndexBackend`` of one machine: everything a build needs lives in its folder."""

    name = "faiss"
    dense_file = "dense.faiss"

    def __init__(self, vectors: VectorBackend) -> None:
        self.vectors = vectors

    def build(
        self,
        vectors: np.ndarray,
        terms: Sequence[DocumentTerms],
        *,
        keys: np.ndarray,
        previous: Path | None,
        k1: float,
        b: float,
    ) -> tuple[FaissIndex, BM25Index]:
        # the files are written whole into the new build folder: keys and previous are unused
        return self.vectors.build(vectors), BM25Index.build(terms, k1=k1, b=b)  # type: ignore[return-value]

    def load(self, directory: Path, kind: str) -> tuple[FaissIndex, BM25Index]:
        dense = self.vectors.load(directory / self.dense_file, kind)
        return dense, BM25Index.load(directory)  # type: ignore[return-value]

    def published(self, directory: Path) -> None:
        return None  # older build folders are removed by the store
