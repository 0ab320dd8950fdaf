"""The reader: runs the network over question + passage windows, best span per window."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from qa.answer.reader.network import SpanHead
from qa.answer.reader.windows import Window, Windower, best_span
from qa.core.types import AnswerSpan

_BATCH = 16


class Reader:
    """Implements ``SpanReader``: every window of every passage, its best span."""

    def __init__(self, lower: nn.Module, head: SpanHead, windower: Windower) -> None:
        self._lower = lower.eval()
        self._head = head.eval()
        self.windower = windower

    @torch.inference_mode()
    def read(
        self, question: str, passages: Sequence[str], starts: Sequence[Sequence[int]]
    ) -> list[AnswerSpan]:
        windows = self.windower.windows(question, passages, starts)
        spans = []
        for b in range(0, len(windows), _BATCH):
            batch = windows[b : b + _BATCH]
            start, end = self.logits(batch)
            spans += [best_span(w, start[k], end[k]) for k, w in enumerate(batch)]
        return spans

    def logits(self, windows: Sequence[Window]) -> tuple[object, object]:
        """Start and end logits (numpy, one row per window, padded)."""
        ids, mask = batch_tensors([w.ids for w in windows], self.windower.pad)
        hidden = self._lower(input_ids=ids, attention_mask=mask).last_hidden_state
        start, end = self._head(hidden, mask)
        return start.numpy(), end.numpy()


def batch_tensors(rows: Sequence[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids and their attention mask."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for k, r in enumerate(rows):
        ids[k, : len(r)] = torch.tensor(r)
        mask[k, : len(r)] = 1
    return ids, mask
