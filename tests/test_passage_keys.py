"""Passages' content keys: stable for an unchanged article, new for a changed one, never twice."""

from __future__ import annotations

import numpy as np
import pytest

from qa.core.errors import IndexCorruptError
from qa.core.types import Article, Chunk
from qa.index.passage_keys import passage_keys, unique


def _articles(b_text: str) -> dict[str, Article]:
    texts = {"a": "Một. Hai. Ba.", "b": b_text}
    return {
        aid: Article(id=aid, title=aid, text=t, path=f"{aid}.txt", fingerprint=f"{aid}:{t}")
        for aid, t in texts.items()
    }


def _chunks(articles: dict[str, Article]) -> list[Chunk]:
    chunks: list[Chunk] = []
    for a in articles.values():
        for start in range(0, len(a.text), 5):
            end = min(start + 5, len(a.text))
            chunks.append(Chunk(len(chunks), a.id, start, end, a.text))
    return chunks


def test_keys_follow_the_article_version_not_the_position() -> None:
    before = _articles("Bốn năm.")
    after = _articles("Bốn năm sáu bảy tám.")
    old, new = passage_keys(_chunks(before), before), passage_keys(_chunks(after), after)
    old_by_article = {c.article_id: [] for c in _chunks(before)}
    for c, k in zip(_chunks(before), old.tolist(), strict=True):
        old_by_article[c.article_id].append(k)
    new_chunks = _chunks(after)
    kept = [k for c, k in zip(new_chunks, new.tolist(), strict=True) if c.article_id == "a"]
    changed = [k for c, k in zip(new_chunks, new.tolist(), strict=True) if c.article_id == "b"]
    assert kept == old_by_article["a"]  # the unchanged article keeps its keys
    assert not set(changed) & set(old.tolist())  # the changed one gets only new ones
    assert new.dtype == np.int64 and (new >= 0).all()


def test_the_same_span_twice_in_an_article_gets_two_keys() -> None:
    articles = _articles("Bốn.")
    chunk = _chunks(articles)[-1]
    keys = passage_keys(
        [chunk, Chunk(1, chunk.article_id, chunk.start, chunk.end, chunk.article_text)], articles
    )
    assert len(set(keys.tolist())) == 2


def test_a_repeated_key_is_refused() -> None:
    with pytest.raises(IndexCorruptError, match="trùng"):
        unique(np.array([3, 1, 3], dtype=np.int64))
