"""Token counts with a model's own tokenizer (the embedding model's; the default e5 model is
also the reader's base)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qa.core.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def shared_tokenizer(path: Path) -> Tokenizer:
    """The fast tokenizer in the file ``path`` (a ``tokenizer.json``), loaded once per process
    while the file is unchanged: XLM-R's takes 0.65 s, and the embedder and the reader read the
    same one. Whoever uses it sets no truncation or padding on it."""
    st = path.stat()
    return _load(str(path), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=4)
def _load(path: str, size: int, mtime_ns: int, inode: int) -> Tokenizer:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


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
