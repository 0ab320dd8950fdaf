"""Sentence-aware chunking with exact character spans into the article text."""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.types import Article
from qa.text.sentences import sentence_spans


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``size`` at word boundaries."""
    pieces: list[tuple[int, int]] = []
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        pieces.append((start, end))
    return pieces


@dataclass(frozen=True)
class SentenceChunker:
    """Packs whole sentences into chunks of about ``size`` characters.

    The next chunk starts with the trailing sentences of the previous one that fit in
    ``overlap`` characters, so an answer spanning a chunk boundary is still found whole.
    """

    size: int
    overlap: int

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"chunk size must be positive, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise ValueError(f"overlap must be in [0, size), got {self.overlap}")

    def chunk(self, article: Article) -> list[tuple[int, int]]:
        text = article.text
        sentences: list[tuple[int, int]] = []
        for start, end in sentence_spans(text):
            sentences.extend(_split_long(text, start, end, self.size))

        chunks: list[tuple[int, int]] = []
        i = 0
        while i < len(sentences):
            j = i + 1
            while j < len(sentences) and sentences[j][1] - sentences[i][0] <= self.size:
                j += 1
            chunks.append((sentences[i][0], sentences[j - 1][1]))
            if j >= len(sentences):
                break
            # Step back over trailing sentences that fit in the overlap, as long as the next
            # chunk still has room for the first new sentence.
            k = j
            while (
                k - 1 > i
                and sentences[j - 1][1] - sentences[k - 1][0] <= self.overlap
                and sentences[j][1] - sentences[k - 1][0] <= self.size
            ):
                k -= 1
            i = k
        return chunks
