"""The reader on ONNX Runtime: the same windows and best spans as the torch reader, the network
run from its exported file (numpy in and out; no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.onnx_runtime import cpu_session
from qa.answer.reader import artifact
from qa.answer.reader.onnx_export import OUTPUTS, ensure_reader_onnx
from qa.answer.reader.windows import Windower, read_spans, windower_for
from qa.core.errors import ModelError
from qa.core.types import AnswerSpan


class OnnxReader:
    """Implements ``SpanReader`` over ``onnx_file`` with ``threads`` intra-op threads."""

    def __init__(self, onnx_file: Path, windower: Windower, threads: int) -> None:
        try:
            self._session = cpu_session(onnx_file, threads)
        except Exception as exc:  # onnxruntime raises its own types
            raise ModelError(f"Không nạp được bộ đọc ONNX {onnx_file}: {exc}") from exc
        self.windower = windower

    def read(
        self, question: str, passages: Sequence[str], starts: Sequence[Sequence[int]]
    ) -> list[AnswerSpan]:
        return read_spans(self.windower, self.logits, question, passages, starts)

    def logits(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of padded windows (one row each)."""
        start, end = self._session.run(list(OUTPUTS), {"input_ids": ids, "attention_mask": mask})
        return start, end


def load(
    model_dir: Path,
    directory: Path,
    manifest: artifact.ReaderManifest,
    variant: str,
    threads: int,
) -> OnnxReader:
    """The reader of the verified weights ``manifest`` in ``directory`` over the e5 folder
    ``model_dir``, its ONNX file ``variant`` exported first when there is none yet."""
    onnx_file = ensure_reader_onnx(model_dir, directory, manifest, variant)
    return OnnxReader(onnx_file, windower_for(model_dir, manifest.max_len), threads)
