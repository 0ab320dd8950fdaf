"""A saved build's articles and passages as compact tables, read from the build's files on use.

One Python object per article and per passage (with its id string, its title and its text, and a
dict slot) was most of what a serving process held: 1,801 of 2,436 MiB at a million synthetic
passages, 68 MiB with these tables (bench section 3a). They keep a few numbers per row: an
article is read from its line of ``articles.jsonl`` when a hit needs it (``os.pread``, a few
recently read ones cached), and a passage is its article's row and offsets.
"""

from __future__ import annotations

import json
import os
import weakref
from array import array
from collections.abc import ItemsView, Iterator, Mapping, Sequence, ValuesView
from functools import lru_cache, partial
from itertools import islice
from pathlib import Path
from typing import overload

import numpy as np

from qa.core.types import Article, Chunk

# the articles of the answers being written (top 5-20 hits each, a few requests at once)
_CACHED_ARTICLES = 1024
_BATCH = 65_536  # chunk lines whose article rows are looked up in one numpy call


class ArticleFile(Mapping[str, Article]):
    """``articles.jsonl`` of a build as a read-only mapping id -> ``Article``, in file order.

    Ids are found by their hash (sorted, binary search), confirmed by reading the line. Every
    line is parsed once on opening, so a damaged file fails here and not in a later request.
    The file stays open while the table lives: a newer build may delete it meanwhile."""

    def __init__(self, path: Path) -> None:
        # typed arrays while reading: a list of a million Python ints would stay in the heap
        offsets, hashes = array("q", [0]), array("q")
        with path.open("rb") as lines:
            for line in lines:
                hashes.append(_key(_parse(line).id))
                offsets.append(offsets[-1] + len(line))
        self._offsets = np.frombuffer(offsets, dtype=np.int64)
        keys = np.frombuffer(hashes, dtype=np.int64)
        self._order = np.argsort(keys, kind="stable")
        self._hashes = keys[self._order]
        fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, fd)
        # (a function of the file alone: a cached bound method would keep self alive in a cycle)
        self._read = partial(_read_row, fd, self._offsets)
        self.article = lru_cache(maxsize=_CACHED_ARTICLES)(self._read)
        """The article on row ``row`` (0-based, file order)."""

    def row_of(self, article_id: str) -> int:
        """The row of the article with this id; ``KeyError`` if there is none."""
        key = _key(article_id)
        left = int(np.searchsorted(self._hashes, key, side="left"))
        right = int(np.searchsorted(self._hashes, key, side="right"))
        row = self._confirmed(article_id, left, right)
        if row < 0:
            raise KeyError(article_id)
        return row

    def rows_of(self, article_ids: Sequence[str]) -> np.ndarray:
        """The row of each id, -1 where the file has no such article."""
        keys = np.array([_key(i) for i in article_ids], dtype=np.int64)
        left = np.searchsorted(self._hashes, keys, side="left")
        right = np.searchsorted(self._hashes, keys, side="right")
        rows = np.full(len(keys), -1, dtype=np.int64)
        for n in np.flatnonzero(right > left):
            rows[n] = self._confirmed(article_ids[n], int(left[n]), int(right[n]))
        return rows

    def _confirmed(self, article_id: str, left: int, right: int) -> int:
        """The row among the sorted hashes ``left:right`` whose article has this id, or -1;
        almost always one candidate: distinct ids with the same hash are told apart here (read
        through the cache: a build's passages of one article are consecutive)."""
        for candidate in self._order[left:right]:
            if self.article(int(candidate)).id == article_id:
                return int(candidate)
        return -1

    def __getitem__(self, article_id: str) -> Article:
        return self.article(self.row_of(article_id))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __iter__(self) -> Iterator[str]:
        return (article.id for article in self._all())

    def values(self) -> _Values:  # type: ignore[override]
        return _Values(self)

    def items(self) -> _Items:  # type: ignore[override]
        return _Items(self)

    def _all(self) -> Iterator[Article]:
        # read in order, around the cache: a pass over every article must not evict the
        # articles that requests are reading
        return (self._read(row) for row in range(len(self)))


class _Values(ValuesView[Article]):
    _mapping: ArticleFile

    def __iter__(self) -> Iterator[Article]:
        return self._mapping._all()


class _Items(ItemsView[str, Article]):
    _mapping: ArticleFile

    def __iter__(self) -> Iterator[tuple[str, Article]]:
        return ((article.id, article) for article in self._mapping._all())


class ChunkTable(Sequence[Chunk]):
    """``chunks.jsonl`` of a build as a sequence of ``Chunk`` (id = position): per passage its
    article's row and its offsets; the ``Chunk`` is made when read."""

    def __init__(self, path: Path, articles: ArticleFile) -> None:
        self._articles = articles
        rows, starts, ends = [], [], []
        with path.open(encoding="utf-8") as lines:
            while batch := [json.loads(line) for line in islice(lines, _BATCH)]:
                for position, (cid, _, _, _) in enumerate(batch, start=len(rows) * _BATCH):
                    if cid != position:
                        raise ValueError(f"passage {cid} on line {position + 1}")
                found = articles.rows_of([aid for _, aid, _, _ in batch])
                if (found < 0).any():
                    raise KeyError(batch[int(np.flatnonzero(found < 0)[0])][1])
                rows.append(found.astype(np.int32))
                starts.append(np.array([c[2] for c in batch], dtype=np.int32))
                ends.append(np.array([c[3] for c in batch], dtype=np.int32))
        empty = [np.zeros(0, dtype=np.int32)]
        self._rows = np.concatenate(rows or empty)
        self._starts = np.concatenate(starts or empty)
        self._ends = np.concatenate(ends or empty)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Chunk: ...

    @overload
    def __getitem__(self, index: slice) -> list[Chunk]: ...

    def __getitem__(self, index: int | slice) -> Chunk | list[Chunk]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        i = range(len(self))[index]  # negative positions and IndexError as a list has them
        article = self._articles.article(int(self._rows[i]))
        return Chunk(i, article.id, int(self._starts[i]), int(self._ends[i]), article.text)

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))


def _read_row(fd: int, offsets: np.ndarray, row: int) -> Article:
    start, end = int(offsets[row]), int(offsets[row + 1])
    return _parse(os.pread(fd, end - start, start))


def _parse(line: bytes) -> Article:
    return Article(**json.loads(line))


def _key(article_id: str) -> int:
    return hash(article_id)  # salted per process, and only ever compared within one
