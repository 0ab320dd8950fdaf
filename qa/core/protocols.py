"""The small protocols one Pipeline composes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from qa.core.types import Answer, Article, Chunk, Hit


class Chunker(Protocol):
    def chunk(self, article: Article) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` of the article's passages."""
        ...


class Embedder(Protocol):
    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized float32 matrix, one row per passage."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """L2-normalized float32 vector."""
        ...


class VectorIndex(Protocol):
    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids), best first; ids are row positions, -1 for none."""
        ...

    def __len__(self) -> int: ...


class Retriever(Protocol):
    def retrieve(self, query: str, k: int) -> list[Hit]: ...


class Answerer(Protocol):
    name: str

    def answer(self, question: str, hits: list[Hit]) -> Answer: ...

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        """Text deltas, then the final checked Answer."""
        ...


__all__ = ["Answerer", "Article", "Chunk", "Chunker", "Embedder", "Retriever", "VectorIndex"]
