"""The reader on torch: the network rebuilt from the e5 folder and the verified weights, run over
question + passage windows (the training recipe's reader, and the ``torch`` reader backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from qa.answer.reader import artifact
from qa.answer.reader.network import SpanHead, SpanNetwork, load_encoder, split_encoder
from qa.answer.reader.windows import Windower, pad_batch, read_spans, windower_for
from qa.core.types import AnswerSpan


class Reader:
    """Implements ``SpanReader``: every window of every passage, its best span."""

    def __init__(self, lower: nn.Module, head: SpanHead, windower: Windower) -> None:
        self.network = SpanNetwork(lower, head).eval()
        self.windower = windower

    def read(
        self, question: str, passages: Sequence[str], starts: Sequence[Sequence[int]]
    ) -> list[AnswerSpan]:
        return read_spans(self.windower, self.logits, question, passages, starts)

    @torch.inference_mode()
    def logits(self, ids: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of padded windows (one row each)."""
        start, end = self.network(torch.from_numpy(ids), torch.from_numpy(mask))
        return start.numpy(), end.numpy()


def batch_tensors(rows: Sequence[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids and their attention mask."""
    ids, mask = pad_batch(rows, pad)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def load(
    model_dir: Path,
    directory: Path = artifact.WEIGHTS_DIR,
    manifest: artifact.ReaderManifest | None = None,
) -> tuple[Reader, artifact.ReaderManifest]:
    """The reader over the e5 folder ``model_dir``, with the verified weights of ``directory``
    (``manifest``: what ``artifact.verify`` already returned for it, so the weights are hashed
    once)."""
    manifest = manifest or artifact.verify(directory)
    artifact.check_base(model_dir, manifest)
    lower, head = split_encoder(
        load_encoder(model_dir), manifest.frozen_layers, manifest.trained_layers
    )
    load_weights(head, directory)
    return Reader(lower, head, windower_for(model_dir, manifest.max_len)), manifest


def load_weights(head: SpanHead, directory: Path) -> None:
    """The weights of ``directory`` (verified by the caller) into ``head``."""
    weights = directory / artifact.WEIGHTS
    try:
        head.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    except (RuntimeError, ValueError) as exc:
        raise artifact.ReaderArtifactError(
            f"Trọng số bộ đọc {weights} không hợp với mạng: {exc}"
        ) from exc
