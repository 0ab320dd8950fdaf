"""The small protocols one Pipeline composes; each stage depends on these, not on classes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.core.types import Answer, AnswerSpan, Article, Hit, QueryTerms


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


class TokenCounter(Protocol):
    """How many tokens a text is (the ``usage`` of OpenAI-compatible answers)."""

    name: str

    def count(self, text: str) -> int: ...


class VectorIndex(Protocol):
    """Dense search over passage vectors; ids are row positions (chunk ids)."""

    kind: str

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; their ids continue from ``len(self)``."""
        ...

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids), best first, at most ``k``; no id is -1."""
        ...

    def save(self, path: Path) -> None: ...


class VectorBackend(Protocol):
    """Builds and loads one kind of vector index (FAISS today; a server-backed one can follow)."""

    def build(self, vectors: np.ndarray) -> VectorIndex: ...

    def load(self, path: Path, kind: str) -> VectorIndex: ...


class KeywordIndex(Protocol):
    """BM25-style scores of every passage for a question's terms."""

    @property
    def folded_vocabulary(self) -> Mapping[str, int]: ...

    def __len__(self) -> int: ...

    def scores(self, query: QueryTerms) -> np.ndarray: ...

    def idf(self, query: QueryTerms) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


class Retriever(Protocol):
    def retrieve(self, query: str, k: int) -> list[Hit]: ...


class SpanReader(Protocol):
    """Finds answer spans: the best span of every window it reads, with its no-answer score."""

    def read(
        self, question: str, passages: Sequence[str], starts: Sequence[Sequence[int]]
    ) -> list[AnswerSpan]:
        """``starts[i]``: character offsets of passage i's sentences (where windows begin)."""
        ...


class Answerer(Protocol):
    name: str

    def answer(self, question: str, hits: list[Hit]) -> Answer: ...

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        """Text deltas, then the final checked Answer."""
        ...
