"""Keyword evidence: how much of a question (or an answer sentence) a span of text supports.

Terms are weighted by their corpus idf, so a matched rare name or number counts for more than a
matched common word. Acronyms are expanded on the text side, so "DTTS" in a question is matched
by "dân tộc thiểu số" in the article and the other way round.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from qa.analysis import QUERY_STOPWORDS, QueryTerms, document_terms, expand_acronyms, query_terms
from qa.store import IndexData
from qa.vietnamese import capitalized_names, fold, has_diacritics, normalize

_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")


def numbers(text: str) -> set[str]:
    """Numbers written in the text, as written ('94,88', '1719', '10/9')."""
    return set(_NUMBER.findall(text))


class Evidence:
    """Scores text spans against one question (or claim) over one index."""

    def __init__(self, question: str, data: IndexData) -> None:
        self._data = data
        self.folded = not has_diacritics(question)
        terms = query_terms(question, {}, data.bm25.folded_vocabulary)
        unique = [t for t in dict.fromkeys(terms.terms) if t not in QUERY_STOPWORDS]
        self.terms = unique
        self.weights = data.bm25.idf(QueryTerms(unique, terms.folded)) if unique else np.zeros(0)
        self._total = float(self.weights.sum())

    def terms_of(self, text: str) -> set[str]:
        accented, folded = _cached_terms(expand_acronyms(text, self._data.acronyms))
        return set(folded if self.folded else accented)

    def coverage(self, text: str) -> float:
        """Idf-weighted share of the question's terms that occur in the text (0..1)."""
        if self._total <= 0:
            return 0.0
        present = self.terms_of(text)
        return (
            float(sum(w for t, w in zip(self.terms, self.weights, strict=True) if t in present))
            / self._total
        )

    def novelty(self, text: str) -> float:
        """Share of the text's terms that the question does not already contain."""
        own = {t for t in self.terms_of(text) if "_" not in t and t not in QUERY_STOPWORDS}
        if not own:
            return 0.0
        return len(own - set(self.terms)) / len(own)

    def unknown_names(self, question: str) -> list[str]:
        """Names in the question (capitalized runs) that no indexed passage contains."""
        vocab = self._data.bm25.folded_vocabulary if self.folded else None
        unknown = []
        for name in capitalized_names(question):
            syllables = name.split()
            keys = (
                [fold(s) for s in syllables]
                if vocab is not None
                else [normalize(s) for s in syllables]
            )
            known = self._data.bm25.known_terms(keys, folded=vocab is not None)
            acronym = normalize(name) in self._data.acronyms
            if not acronym and not all(known):
                unknown.append(name)
        return unknown


@lru_cache(maxsize=4096)
def _cached_terms(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    accented, folded = document_terms(text)
    return tuple(accented), tuple(folded)
