"""A tiny deterministic embedder for tests: hashed character trigrams, no model to load."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from qa.text.vietnamese import fold

PREFIX = "hash:"


class HashEmbedder:
    """Bag of hashed folded character trigrams, L2-normalized.

    Texts that share words get similar vectors, and the same text gets the same vector in every
    process (SHA-256, not Python's salted ``hash``).
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"{PREFIX}{dim}"

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        padded = f"  {fold(text)}  "
        for i in range(len(padded) - 2):
            digest = hashlib.sha256(padded[i : i + 3].encode()).digest()
            vec[int.from_bytes(digest[:4], "little") % self.dim] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return (
            np.stack([self._vector(t) for t in texts])
            if texts
            else np.zeros((0, self.dim), np.float32)
        )

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)
