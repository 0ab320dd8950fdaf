"""Content addresses of passages: the same article version and span always give the same key.

A key is 63 bits of a BLAKE2b hash of the article id, the article's fingerprint, the passage's
ordinal in its article and its character span, so a backend can tell which passages an earlier build already holds
without positions (which shift whenever an article before them changes). Among a million
passages the chance that two keys collide is about 1e-7; ``unique`` checks every build anyway.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from qa.core.errors import IndexCorruptError
from qa.core.types import Article, Chunk

_MASK = (1 << 63) - 1  # Milvus's INT64 primary key, kept non-negative


def key(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MASK


def passage_keys(chunks: Sequence[Chunk], articles: Mapping[str, Article]) -> np.ndarray:
    """One key per chunk, in chunk order (int64)."""
    ordinals: Counter[str] = Counter()
    keys = np.empty(len(chunks), dtype=np.int64)
    for i, c in enumerate(chunks):
        ordinal = ordinals[c.article_id]
        ordinals[c.article_id] += 1
        fingerprint = articles[c.article_id].fingerprint
        keys[i] = key(c.article_id, fingerprint, str(ordinal), str(c.start), str(c.end))
    return unique(keys)


def unique(keys: np.ndarray) -> np.ndarray:
    """``keys``, checked to hold no key twice."""
    if len(np.unique(keys)) != len(keys):
        raise IndexCorruptError(
            "Hai đoạn văn trùng khoá nội dung (trùng băm 63 bit); hãy báo lỗi này kèm kho bài."
        )
    return keys
