"""Keyword evidence: how much of a question (or an answer sentence) a span of text supports.

The question is cut into words (segmented: "dân số" is one word, not "dân" + "số"), each weighted
by its corpus idf, so a matched rare name or number counts for more than a common word, and a
sentence with "dân tộc ... số 35" does not support a question about "dân số". A word is present
in a text when its syllables occur there in order. Acronyms are expanded on the text side, so
"DTTS" in a question is matched by "dân tộc thiểu số" in the article and the other way round.
Words missing from a sentence but present around it (its passage, the article title) get part of
their weight: "Ai là Trưởng Ban Dân tộc tỉnh Trà Vinh?" is answered by a sentence that names the
person while the paragraph names the province.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from qa.core.index_data import IndexData
from qa.core.types import QueryTerms
from qa.text.terms import QUERY_STOPWORDS, expand_acronyms
from qa.text.vietnamese import capitalized_names, fold, has_diacritics, nfc, normalize, segment

_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
_SYLLABLE = re.compile(r"\w+")
CONTEXT_CREDIT = 0.5
_LONGEST_COMPOUND = 4


def numbers(text: str) -> set[str]:
    """Numbers written in the text, as written ('94,88', '1719', '10/9')."""
    return set(_NUMBER.findall(text))


class Evidence:
    """Scores text spans against one question (or claim) over one index."""

    def __init__(self, question: str, data: IndexData) -> None:
        self._data = data
        self.folded = not has_diacritics(question)
        self._key = fold if self.folded else normalize
        self._names = capitalized_names(question)
        raw = self._folded_words(question) if self.folded else self._accented_words(question)
        words: dict[str, float] = {}
        for word in raw:
            key = " ".join(_SYLLABLE.findall(self._key(word)))
            if key and key.replace(" ", "_") not in QUERY_STOPWORDS and key not in words:
                words[key] = self._weight(word, key)
        self.words = list(words)
        self.weights = np.array(list(words.values()), dtype=np.float32)
        self._total = float(self.weights.sum())
        self.syllables = {s for w in self.words for s in w.split()}

    def _weight(self, word: str, key: str) -> float:
        """Idf of the word; a name weighs the mean idf of its syllables, since word segmentation
        of names varies between a question and the articles."""
        syllables = key.split()
        if len(syllables) > 1 and any(word in name for name in self._names):
            return float(self._data.bm25.idf(QueryTerms(syllables, self.folded)).mean())
        return float(self._data.bm25.idf(QueryTerms(["_".join(syllables)], self.folded))[0])

    @staticmethod
    def _accented_words(question: str) -> list[str]:
        return [w.replace("_", " ") for w in segment(question)]

    def _folded_words(self, question: str) -> list[str]:
        """Greedy longest match against the corpus's (folded) multi-syllable words."""
        syllables = _SYLLABLE.findall(nfc(question))
        vocabulary = self._data.bm25.folded_vocabulary
        words, i = [], 0
        while i < len(syllables):
            for n in range(min(_LONGEST_COMPOUND, len(syllables) - i), 0, -1):
                if n == 1 or "_".join(syllables[i : i + n]).lower() in vocabulary:
                    words.append(" ".join(syllables[i : i + n]))
                    i += n
                    break
        return words

    def _present(self, text: str) -> np.ndarray:
        haystack = _normalized(expand_acronyms(text, self._data.acronyms), self.folded)
        return np.array([f" {w} " in haystack for w in self.words], dtype=bool)

    def coverage(self, text: str, context: str = "") -> float:
        """Idf-weighted share of the question's words in the text (0..1); words found only in
        ``context`` count ``CONTEXT_CREDIT`` of their weight."""
        if self._total <= 0:
            return 0.0
        present = self._present(text)
        score = float(self.weights[present].sum())
        if context:
            around = self._present(context) & ~present
            score += CONTEXT_CREDIT * float(self.weights[around].sum())
        return score / self._total

    def novelty(self, text: str) -> float:
        """Share of the text's syllables that the question does not already contain."""
        own = {s for s in _SYLLABLE.findall(self._key(text)) if s not in QUERY_STOPWORDS}
        if not own:
            return 0.0
        return len(own - self.syllables) / len(own)

    def unknown_names(self, question: str, passages: Sequence[str] = ()) -> list[str]:
        """Names in the question (capitalized runs) that no article uses as a name and none of
        the given passages contains (so 'Hội Nghị' typed in title case is still known)."""
        seen = " ".join(_normalized(p, True) for p in passages)
        unknown = []
        for name in capitalized_names(question):
            key = " ".join(_SYLLABLE.findall(fold(name)))
            known = normalize(name) in self._data.acronyms or key in self._data.names
            # a one-syllable name ('Pháp') is too often also a common word to trust a passage
            if not known and (" " not in key or f" {key} " not in seen):
                unknown.append(name)
        return unknown


def mentions(text: str, phrase: str) -> bool:
    """Whether the text contains the phrase as whole words, ignoring case and diacritics."""
    key = " ".join(_SYLLABLE.findall(fold(phrase)))
    return bool(key) and f" {key} " in _normalized(text, True)


@lru_cache(maxsize=8192)
def _normalized(text: str, folded: bool) -> str:
    """Syllables of the text separated by single spaces, padded, for whole-word matching."""
    key = fold(text) if folded else normalize(text)
    return f" {' '.join(_SYLLABLE.findall(key))} "
