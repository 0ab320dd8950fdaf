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
    """Builds and loads one kind of vector index (FAISS files, or a Milvus collection)."""

    def build(self, vectors: np.ndarray) -> VectorIndex: ...

    def load(self, path: Path, kind: str) -> VectorIndex: ...


class KeywordIndex(Protocol):
    """BM25-style scores of passages for a question's terms."""

    @property
    def folded_vocabulary(self) -> Mapping[str, int]: ...

    def __len__(self) -> int: ...

    def top(self, query: QueryTerms, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of at most ``n`` passages, best first; passages the terms miss
        may be left out."""
        ...

    def top_and_scores_of(
        self, query: QueryTerms, n: int, ids: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``top(query, n)`` and the score of each of ``ids`` (0 where no term matches), from
        one scoring of the question (hybrid retrieval's BM25 list and its dense candidates)."""
        ...

    def idf(self, query: QueryTerms) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


# (accented terms, folded terms) of one passage, as ``qa.text.terms.document_terms`` gives them
DocumentTerms = tuple[list[str], list[str]]


class IndexBackend(Protocol):
    """Builds and loads the searchable part of a build: its dense and its keyword index.

    ``local`` keeps both in the build folder (FAISS + in-process BM25); ``milvus`` keeps them
    in a Milvus collection and only a pointer to it in the folder.
    """

    name: str
    dense_file: str  # what the dense index writes into the build folder

    def build(
        self,
        vectors: np.ndarray,
        terms: Sequence[DocumentTerms],
        *,
        keys: np.ndarray,
        previous: Path | None,
        k1: float,
        b: float,
    ) -> tuple[VectorIndex, KeywordIndex]:
        """Index the passages; ``keys`` are their content addresses (``qa.index.passage_keys``)
        and ``previous`` the folder of the build this one replaces, whose indexes a backend
        may update in place rather than write again (the previous build must keep serving
        until this one is published)."""
        ...

    def load(self, directory: Path, kind: str) -> tuple[VectorIndex, KeywordIndex]: ...

    def published(self, directory: Path) -> None:
        """The build in ``directory`` now serves: let go of what older builds left behind."""
        ...


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
