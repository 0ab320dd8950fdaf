"""Token counts with a model's own tokenizer (the embedding model's; the default e5 model is
also the reader's base)."""

from __future__ import annotations

import os

from qa.core.errors import ModelError


class TokenizerCounter:
    """Tokens ``path``'s tokenizer gives for a text, without special tokens or truncation."""

    def __init__(self, path: str, *, name: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder or cache: never download
        from transformers import AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path)
        except Exception as exc:  # transformers raises many types for a bad folder
            raise ModelError(f"Không nạp được bộ tách token của {path}: {exc}") from exc
        self.name = name

    def count(self, text: str) -> int:
        # verbose=False: no warning for texts longer than the model reads at once
        return len(self._tokenizer.encode(text, add_special_tokens=False, verbose=False))
