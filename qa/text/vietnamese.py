"""Vietnamese text: NFC, tone-mark placement, accent folding, word segmentation.

Two keys are derived from any text: the *accented* key (NFC, lower case, tone marks placed the
new way: hoá -> hóa, thuỷ -> thủy) and the *folded* key (no diacritics at all, đ -> d), which is
what a user typing without diacritics produces.
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
from functools import lru_cache

# Old-style placement puts the tone on the second vowel of a word-final "oa", "oe", "uy";
# the new style puts it on the first. Only open syllables differ ("hoàn" is the same in both),
# and "qu" + "y" keeps the tone on y ("quý").
_TONED = {
    "a": "àáảãạ",
    "e": "èéẻẽẹ",
    "y": "ỳýỷỹỵ",
}
_TONED_O = "òóỏõọ"
_TONED_U = "ùúủũụ"


def _old_to_new_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for i in range(5):
        table["o" + _TONED["a"][i]] = _TONED_O[i] + "a"
        table["o" + _TONED["e"][i]] = _TONED_O[i] + "e"
        table["u" + _TONED["y"][i]] = _TONED_U[i] + "y"
    return table


_OLD_TO_NEW = _old_to_new_table()
_OLD_STYLE = re.compile(r"(?<!q)(" + "|".join(sorted(_OLD_TO_NEW)) + r")(?!\w)")
_DIACRITIC_CHARS = re.compile(r"[^\x00-\x7f]")
_WORD = re.compile(r"\w+", re.UNICODE)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def normalize(text: str) -> str:
    """NFC, lower case, tone marks in the new placement."""
    lowered = nfc(text).lower()
    return _OLD_STYLE.sub(lambda m: _OLD_TO_NEW[m.group(1)], lowered)


def fold(text: str) -> str:
    """Lower case without any diacritics: 'Đồng Tháp' -> 'dong thap'."""
    decomposed = unicodedata.normalize("NFD", nfc(text).lower())
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return stripped.replace("đ", "d")


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese letter outside ASCII."""
    return any(fold(c) != c.lower() for c in _DIACRITIC_CHARS.findall(nfc(text)))


_PYVI_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _pyvi_tokenize():  # type: ignore[no-untyped-def]
    """pyvi's tokenizer, loaded without scikit-learn when nothing has imported it yet.

    pyvi's CRF model is a pickled sklearn-crfsuite estimator; sklearn_crfsuite.compat derives it
    from scikit-learn's BaseEstimator when scikit-learn imports and from a plain class when it
    does not, and tagging never uses the base class. Importing scikit-learn (with scipy and
    pandas) is most of pyvi's start-up, so compat is imported with scikit-learn masked (a
    ``None`` in ``sys.modules`` makes ``import sklearn`` raise ImportError), then unmasked.
    """
    with _PYVI_LOCK:
        if "sklearn" not in sys.modules and "sklearn_crfsuite" not in sys.modules:
            sys.modules["sklearn"] = None  # type: ignore[assignment]
            try:
                import sklearn_crfsuite.compat  # noqa: F401
            finally:
                del sys.modules["sklearn"]
        from pyvi import ViTokenizer

    return ViTokenizer.tokenize


def segment(text: str) -> list[str]:
    """Word segmentation: syllables of one word joined by '_' ('dân_tộc', 'thiểu_số')."""
    tokenized = _pyvi_tokenize()(nfc(text))
    return [t for t in tokenized.split() if _WORD.search(t)]


def capitalized_names(text: str) -> list[str]:
    """Runs of capitalized words ('Bắc Kạn', 'DTTS') separated by single spaces only, without a
    question's capitalized first word."""
    found: list[str] = []
    run: list[re.Match[str]] = []

    def close() -> None:
        if run and not (run[0].start() == 0 and len(run) == 1):
            first = 1 if run[0].start() == 0 else 0
            found.append(text[run[first].start() : run[-1].end()])
        run.clear()

    for match in _WORD.finditer(text):
        if not match.group()[0].isupper():
            close()
            continue
        if run and text[run[-1].end() : match.start()] != " ":
            close()
        run.append(match)
    close()
    return found
