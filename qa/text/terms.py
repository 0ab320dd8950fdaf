"""Keyword terms for BM25: normalized syllables plus segmented multi-syllable words.

Every text yields two term lists: *accented* (normalize) and *folded* (no diacritics). Documents
are indexed under both; a question typed with diacritics is matched on accented terms, one typed
without any on folded terms, so 'ty le nguoi dan toc' finds 'tỷ lệ người dân tộc'.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import lru_cache

from qa.core.types import QueryTerms
from qa.text.vietnamese import fold, has_diacritics, normalize, segment

# Question words and particles that say nothing about the topic.
QUERY_STOPWORDS = frozenset(
    normalize(w)
    for w in (
        "là",
        "gì",
        "nào",
        "ai",
        "đâu",
        "sao",
        "bao",
        "nhiêu",
        "mấy",
        "khi",
        "thế",
        "như",
        "vì",
        "tại",
        "có",
        "không",
        "được",
        "bị",
        "của",
        "và",
        "các",
        "những",
        "một",
        "cho",
        "với",
        "về",
        "thì",
        "mà",
        "này",
        "đó",
        "ấy",
        "ở",
        "trong",
        "trên",
        "từ",
        "đến",
        "theo",
        "hãy",
        "biết",
        "xin",
        "vui",
        "lòng",
        "nêu",
        "kể",
        "liệt",
        "kê",
        "hỏi",
        "còn",
        "bao_nhiêu",
        "thế_nào",
        "như_thế_nào",
        "tại_sao",
        "vì_sao",
        "khi_nào",
        "cho_biết",
        "là_gì",
        "hãy_cho_biết",
        "ra_sao",
    )
)
_FOLDED_TOKEN = re.compile(r"\d+(?:[.,/]\d+)*|\w+")


def _terms(words: list[str]) -> list[str]:
    terms: list[str] = []
    for word in words:
        syllables = [s for s in word.split("_") if s]
        terms.extend(syllables)
        if len(syllables) > 1:
            terms.append("_".join(syllables))
    return terms


def document_terms(text: str) -> tuple[list[str], list[str]]:
    """(accented terms, folded terms) of a passage."""
    accented = _terms([normalize(w) for w in segment(text)])
    return accented, [fold(t) for t in accented]


def _compounds(syllables: list[str], vocabulary: Collection[str], longest: int = 4) -> list[str]:
    """Multi-syllable words of the vocabulary found in a run of syllables."""
    found: list[str] = []
    for i in range(len(syllables)):
        for n in range(2, longest + 1):
            candidate = "_".join(syllables[i : i + n])
            if i + n <= len(syllables) and candidate in vocabulary:
                found.append(candidate)
    return found


def expand_acronyms(text: str, acronyms: Mapping[str, str]) -> str:
    """Append the long form of each acronym in the text and the acronym of each long form."""
    normalized = normalize(text)
    folded = fold(text)
    extra: list[str] = []
    for short, long_form in acronyms.items():
        folded_short, folded_long = _folded(short), _folded(long_form)
        for haystack, s, lf in (
            (normalized, short, long_form),
            (folded, folded_short, folded_long),
        ):
            if _has_phrase(haystack, s):
                extra.append(lf)
                break
            if _has_phrase(haystack, lf):
                extra.append(s)
                break
    return " ".join([text, *extra])


@lru_cache(maxsize=8192)
def _folded(phrase: str) -> str:
    return fold(phrase)


@lru_cache(maxsize=8192)
def _whole_words(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")


def _has_phrase(haystack: str, phrase: str) -> bool:
    """``phrase`` as whole words in ``haystack``; the substring test first, since most of an
    acronym table is absent from any one text."""
    return phrase in haystack and _whole_words(phrase).search(haystack) is not None


def query_terms(
    text: str, acronyms: Mapping[str, str], folded_vocabulary: Collection[str]
) -> QueryTerms:
    """Terms of a question; a question without any diacritics is matched on folded terms."""
    expanded = expand_acronyms(text, acronyms)
    if has_diacritics(text):
        terms = _terms([normalize(w) for w in segment(expanded)])
        return QueryTerms([t for t in terms if t not in QUERY_STOPWORDS], folded=False)
    syllables = _FOLDED_TOKEN.findall(fold(expanded))
    # No stop words here: folded, they collide with content words ('bạn' and 'ban' -> 'ban').
    return QueryTerms(syllables + _compounds(syllables, folded_vocabulary), folded=True)
