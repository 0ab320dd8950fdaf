"""Starter questions for an empty chat, made from whatever articles are indexed.

A sentence that counts something ("... giữa 8 tỉnh, thành phố") becomes a question about that
number ("... giữa bao nhiêu tỉnh?"), cut right after the question words; an article without one
is asked when the event of its title took place (news articles report one, and say when). Nothing
here knows the articles: the same rules make questions for any Vietnamese corpus, and the answer
is in the article the question came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.core.types import Article
from qa.text.sentences import sentence_spans
from qa.text.vietnamese import segment

_NUMBER = re.compile(r"(?<![\w.,/])\d+(?:[.,]\d+)*(?![\w/])")
# what follows the number decides the question words; the unit word (a compound such as
# "cơ quan", found by the word segmenter) is kept after "bao nhiêu"
_PERCENT = re.compile(r"\s?(?:%|phần trăm)")
_YEAR = range(1900, 2100)
# a number in a date, a time or a name ("ngày 27", "Quyết định 1719") is not a count
_NOT_COUNTED = re.compile(
    r"\b(?:ngày|tháng|năm|số|lúc|quý|khóa|khoá|lần|dự án|quyết định|chương trình)\s*$",
    re.IGNORECASE,
)
_MIN_WORDS_BEFORE = 4
_MAX_WORDS_BEFORE = 20
# words that follow a number without being what it counts ("Dự án 10 của ..."), and spans
# of time, which mostly say when rather than how many ("6 tháng đầu năm")
_NOT_UNIT_WORDS = (
    "các của cho có đã để đến được là mà này những ở tại theo thì trên trong từ và về với"
    " giây phút giờ ngày tuần tháng quý năm"
)
_NOT_UNITS = frozenset(_NOT_UNIT_WORDS.split())
_MAX_CHARS = 160
_CLASSIFIER_WORDS = "bức cái cây chiếc con cuốn ngôi quyển tấm"
_CLASSIFIERS = frozenset(_CLASSIFIER_WORDS.split())
_TITLE_ASK = "{} diễn ra khi nào?"


def starter_questions(articles: Iterable[Article], limit: int = 4) -> list[str]:
    """At most one question per article, in the articles' order, at most ``limit`` in all;
    questions about numbers first, then those about titles."""
    counted: list[str] = []
    titled: list[str] = []
    for article in articles:
        question = _first_number_question(article.text)
        if question:
            counted.append(question)
        elif question := _title_question(article.title):
            titled.append(question)
    return list(dict.fromkeys(counted + titled))[:limit]


def _title_question(title: str) -> str | None:
    """None for a title cut short with "…" (one made from the first words) or a long one."""
    title = " ".join(title.split()).rstrip(" .")
    if not title or title.endswith("…"):
        return None
    question = _TITLE_ASK.format(title)
    return question if len(question) <= _MAX_CHARS else None


def _first_number_question(text: str) -> str | None:
    for start, end in sentence_spans(text):
        question = number_question(text[start:end])
        if question:
            return question
    return None


def number_question(sentence: str) -> str | None:
    """The sentence asked about its first number that counts something, or None."""
    for number in _NUMBER.finditer(sentence):
        question = _asked(sentence, number)
        if question:
            return question
    return None


def _asked(sentence: str, number: re.Match[str]) -> str | None:
    digits = number.group()
    if digits.startswith("0") or (digits.isdigit() and int(digits) in _YEAR):
        return None
    before = sentence[: number.start()]
    if _NOT_COUNTED.search(before):
        return None
    words = before.split()
    if not _MIN_WORDS_BEFORE <= len(words) <= _MAX_WORDS_BEFORE or not words[0][0].isupper():
        return None
    if any(mark in before for mark in ':;()"“”'):
        return None
    after = sentence[number.end() :]
    if _PERCENT.match(after):
        asked = before + "bao nhiêu phần trăm"
    elif unit := _unit(after):
        asked = before + "bao nhiêu " + unit
    else:
        return None
    question = asked.rstrip(" ,") + "?"
    return question if len(question) <= _MAX_CHARS else None


def _unit(after: str) -> str | None:
    """The lower-case word right after the number ("8 tỉnh", "132 đại biểu"), if any."""
    if not after[:1].isspace():
        return None
    words = [w.replace("_", " ") for w in segment(after[:40])]
    if not words or not _lower_word(words[0]) or words[0] in _NOT_UNITS:
        return None
    if words[0] in _CLASSIFIERS and len(words) > 1 and _lower_word(words[1]):
        return f"{words[0]} {words[1]}"  # "45 cây cầu": how many bridges, not how many "cây"
    return words[0]


def _lower_word(word: str) -> bool:
    return word.replace(" ", "").isalpha() and word.islower()
