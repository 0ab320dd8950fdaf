"""Question + passage windows for the reader, and the best span of each window.

A passage longer than one window is read in overlapping windows that start at sentence starts,
so no answer is lost at a window edge. Offsets map every window token back to the characters
of the passage, so a span is always an exact slice of the text it came from. ``read_spans`` is
the reading itself, whatever runs the network (torch or ONNX Runtime).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from embeddings.tokenizer import shared_tokenizer
from qa.core.types import AnswerSpan

QUERY_PREFIX = "query: "
MAX_QUESTION_TOKENS = 40
MAX_ANSWER_TOKENS = 48
BATCH = 16  # windows per run of the network

# (ids, attention mask) -> (start logits, end logits), one row per window, padded
Logits = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Window:
    passage: int  # index into the passages given
    ids: list[int]
    offsets: list[tuple[int, int]]  # character span in the passage of each context token
    context_start: int  # sequence position of the first context token


class Windower:
    def __init__(self, tokenizer: Tokenizer, max_len: int) -> None:
        self._tok = tokenizer
        self.max_len = max_len
        self.bos, self.eos, self.pad = (tokenizer.token_to_id(t) for t in ("<s>", "</s>", "<pad>"))

    def question_ids(self, question: str) -> list[int]:
        ids = self._tok.encode(QUERY_PREFIX + question, add_special_tokens=False).ids
        return ids[:MAX_QUESTION_TOKENS]

    def passage_tokens(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        enc = self._tok.encode(text, add_special_tokens=False)
        return enc.ids, enc.offsets

    def sequence(self, question_ids: list[int], window_ids: list[int]) -> list[int]:
        return [self.bos, *question_ids, self.eos, self.eos, *window_ids, self.eos]

    def budget(self, question_ids: list[int]) -> int:
        """Passage tokens that fit beside the question."""
        return self.max_len - len(question_ids) - 4

    def windows(
        self, question: str, passages: Sequence[str], starts: Sequence[Sequence[int]]
    ) -> list[Window]:
        """Windows over every passage; ``starts[i]`` are the character offsets of passage i's
        sentences, where a window prefers to begin."""
        q_ids = self.question_ids(question)
        budget = self.budget(q_ids)
        context_start = len(q_ids) + 3
        out = []
        for p, text in enumerate(passages):
            ids, offsets = self.passage_tokens(text)
            for t0 in window_starts(offsets, starts[p], budget):
                window = ids[t0 : t0 + budget]
                out.append(
                    Window(
                        p, self.sequence(q_ids, window), offsets[t0 : t0 + budget], context_start
                    )
                )
        return out


def windower_for(model_dir: Path, max_len: int) -> Windower:
    """The windower over the tokenizer of the e5 folder ``model_dir``."""
    return Windower(shared_tokenizer(Path(model_dir) / "tokenizer.json"), max_len)


def read_spans(
    windower: Windower,
    logits: Logits,
    question: str,
    passages: Sequence[str],
    starts: Sequence[Sequence[int]],
) -> list[AnswerSpan]:
    """``SpanReader.read``: every window of every passage, its best span."""
    windows = windower.windows(question, passages, starts)
    spans = []
    for b in range(0, len(windows), BATCH):
        batch = windows[b : b + BATCH]
        start, end = logits(*pad_batch([w.ids for w in batch], windower.pad))
        spans += [best_span(w, start[k], end[k]) for k, w in enumerate(batch)]
    return spans


def pad_batch(rows: Sequence[list[int]], pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Padded ids and their attention mask (int64)."""
    length = max(len(r) for r in rows)
    ids = np.full((len(rows), length), pad, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for k, r in enumerate(rows):
        ids[k, : len(r)] = r
        mask[k, : len(r)] = 1
    return ids, mask


def sentence_tokens(offsets: Sequence[tuple[int, int]], char_starts: Sequence[int]) -> list[int]:
    """The first token of each sentence (in order; ``len(offsets)`` for one past the end)."""
    n = len(offsets)
    return [next((i for i, (_s, e) in enumerate(offsets) if e > c), n) for c in char_starts]


def window_starts(
    offsets: Sequence[tuple[int, int]], char_starts: Sequence[int], budget: int
) -> list[int]:
    """Token positions where windows begin: each next window starts at the last sentence start
    that keeps some overlap with the one before, or half a window on when none fits."""
    if not offsets:
        return []
    firsts = sentence_tokens(offsets, char_starts)
    result = [0]
    while result[-1] + budget < len(offsets):
        prev = result[-1]
        fits = [t for t in firsts if prev + budget // 4 <= t <= prev + budget - 8]
        result.append(fits[-1] if fits else prev + budget // 2)
    return result


def best_span(window: Window, start: np.ndarray, end: np.ndarray) -> AnswerSpan:
    """The highest-scoring span inside the window's context tokens, with the window's
    no-answer score."""
    c0, n = window.context_start, len(window.offsets)
    scores = start[c0 : c0 + n, None] + end[None, c0 : c0 + n]
    i_idx, j_idx = np.indices(scores.shape)
    scores[(j_idx < i_idx) | (j_idx >= i_idx + MAX_ANSWER_TOKENS)] = -np.inf
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return AnswerSpan(
        passage=window.passage,
        start=window.offsets[i][0],
        end=window.offsets[j][1],
        score=float(scores[i, j]),
        null=float(start[0] + end[0]),
    )
