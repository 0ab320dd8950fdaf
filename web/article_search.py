"""The article browser's search: the query as a phrase of whole words, in the title or the text.

A plain substring search over the loaded articles, not the retriever: the browser lists the
articles that contain what was typed (none for a word no article has), in a stable order,
while the retriever ranks passages by likeness and always returns some. Case and diacritics are
ignored, so "tra vinh" finds "Trà Vinh" (and not "trao đổi ... Vĩnh Phúc").
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from qa.core.index_data import IndexData
from qa.core.types import Article
from qa.text.vietnamese import fold

_CONTEXT = 80  # characters of text shown on each side of the first match
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Match:
    article: Article
    # the text around the first match in the body: before, the match, after ("" when only the
    # title matched)
    snippet: tuple[str, str, str]


def _folded(text: str) -> str:
    """``fold`` one character at a time, so that offsets stay those of ``text``."""
    return "".join(fold(c)[:1] or c for c in text)


class ArticleSearch:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folded: tuple[IndexData, dict[str, tuple[str, str]]] | None = None

    def search(self, data: IndexData, query: str) -> list[Match]:
        """Articles holding the phrase, those with it in the title first."""
        phrase = " ".join(_folded(query).split())
        if not phrase:
            return [Match(a, ("", "", "")) for a in data.articles.values()]
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, phrase.split())) + r"(?!\w)")
        folded = self._texts(data)
        in_title: list[Match] = []
        in_text: list[Match] = []
        for article in data.articles.values():
            title, text = folded[article.id]
            found = pattern.search(text)
            if pattern.search(title):
                in_title.append(Match(article, _snippet(article.text, found)))
            elif found:
                in_text.append(Match(article, _snippet(article.text, found)))
        return in_title + in_text

    def _texts(self, data: IndexData) -> dict[str, tuple[str, str]]:
        with self._lock:
            if self._folded is None or self._folded[0] is not data:
                texts = {a.id: (_folded(a.title), _folded(a.text)) for a in data.articles.values()}
                self._folded = (data, texts)
            return self._folded[1]


def _snippet(text: str, found: re.Match[str] | None) -> tuple[str, str, str]:
    if found is None:
        return "", "", ""
    at, end = found.span()
    start, stop = max(0, at - _CONTEXT), min(len(text), end + _CONTEXT)
    before = ("…" if start else "") + _SPACES.sub(" ", text[start:at])
    after = _SPACES.sub(" ", text[end:stop]) + ("…" if stop < len(text) else "")
    return before, text[at:end], after
