"""The Embedder on ONNX Runtime: the model's own fast tokenizer, the exported transformer, then
mean pooling over the attention mask and L2 normalization in numpy (the folder's
sentence-transformers Pooling and Normalize modules)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from embeddings.onnx_runtime import cpu_session
from embeddings.tokenizer import shared_tokenizer
from qa.core.errors import ModelError


class OnnxEmbedder:
    """``onnx_file`` run on the CPU with ``threads`` intra-op threads; ``model_dir`` is the
    sentence-transformers folder it was exported from (tokenizer, max length, pooling)."""

    def __init__(
        self,
        onnx_file: Path,
        model_dir: Path,
        *,
        name: str,
        batch_size: int,
        query_prefix: str,
        passage_prefix: str,
        threads: int,
        show_progress: bool = False,
    ) -> None:
        _check_mean_pooling(model_dir)
        try:
            self._tokenizer = shared_tokenizer(model_dir / "tokenizer.json")
            max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())[
                "max_seq_length"
            ]
            self._session = cpu_session(onnx_file, threads)
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise ModelError(f"Không nạp được mô hình nhúng ONNX {onnx_file}: {exc}") from exc
        if self._tokenizer.padding is not None:
            raise ModelError(
                f"{model_dir / 'tokenizer.json'} pads its encodings; hoidap pads itself"
            )
        self._max_length = int(max_length)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.name = name
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        self._show_progress = show_progress

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = [
            self._truncated(e.ids)
            for e in self._tokenizer.encode_batch([self._passage_prefix + t for t in texts])
        ]
        # longest first, so each batch pads to nearly its own length (and a too-big batch fails
        # at once)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        starts = range(0, len(order), self._batch_size)
        for start in tqdm(
            starts, desc="Nhúng", unit="lô", disable=not self._show_progress, leave=False
        ):
            rows = order[start : start + self._batch_size]
            out[rows] = self._encode([ids[i] for i in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        # the same question is embedded again by search, ask and follow-ups: keep recent ones
        return self._cached_query(text).copy()

    @lru_cache(maxsize=512)  # noqa: B019 - one embedder lives as long as its process
    def _cached_query(self, text: str) -> np.ndarray:
        return self._encode(
            [self._truncated(self._tokenizer.encode(self._query_prefix + text).ids)]
        )[0]

    def _truncated(self, ids: list[int]) -> list[int]:
        """The model's longest input, as the tokenizer's own truncation gives it: the first
        tokens, then the closing special token (the shared tokenizer truncates nothing)."""
        if len(ids) <= self._max_length:
            return ids
        return ids[: self._max_length - 1] + ids[-1:]

    def _encode(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for r, row in enumerate(ids):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run(None, feed)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def _check_mean_pooling(model_dir: Path) -> None:
    """The numpy pooling above is mean over every token (prompt included), then Normalize."""
    try:
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        modules = [m["type"] for m in json.loads((model_dir / "modules.json").read_text())]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{model_dir} is not a sentence-transformers folder: {exc}") from exc
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    if (
        modes != ["pooling_mode_mean_tokens"]
        or pooling.get("include_prompt", True) is not True
        or not any(t.endswith(".Normalize") for t in modules)
    ):
        raise ModelError(
            f"{model_dir}: the ONNX embedder needs mean pooling over all tokens and a Normalize "
            f"module; this folder has pooling {modes} and modules {modules}"
        )
