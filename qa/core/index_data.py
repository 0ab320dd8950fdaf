"""What one index build holds in memory, and its manifest."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import __version__
from qa.core.protocols import KeywordIndex, VectorIndex
from qa.core.types import Article, Chunk


@dataclass
class Manifest:
    format_version: int
    model: str
    dim: int
    chunk_count: int
    article_count: int
    corpus_fingerprint: str
    index_kind: str
    chunk_size: int
    chunk_overlap: int
    backend: str = "faiss"  # the IndexBackend that holds the dense and keyword indexes
    hoidap_version: str = __version__
    created_at: float = field(default_factory=time.time)


@dataclass
class EmbeddedBuild:
    """What a build keeps whatever backend searched it: a new build reuses its vectors."""

    manifest: Manifest
    articles: Mapping[str, Article]
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    directory: Path | None = None  # the build folder it was read from


@dataclass
class IndexData:
    manifest: Manifest
    articles: Mapping[str, Article]
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    dense: VectorIndex
    bm25: KeywordIndex
    acronyms: dict[str, str]
    # every folded sub-phrase of the capitalized names the articles use ('bac kan', 'kien ninh')
    names: frozenset[str] = frozenset()
