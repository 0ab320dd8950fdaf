"""Typed values passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field


# slots: a million-passage index holds a million of each, and a __dict__ apiece cost about
# 150 MiB of a 1M serving process (bench section 3a)
@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article; ``text`` is the one source of truth for character offsets.

    ``title_generated``: the article has no title; ``title`` is its first words.
    ``date_in_text``: the header has no date; ``date`` was found in the text."""

    id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    path: str = ""
    fingerprint: str = ""
    title_generated: bool = False
    date_in_text: bool = False


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage: ``text`` is ``article_text[start:end]``, sliced when read.

    ``article_text`` is the article's own string, shared: a copy of every passage's text was
    half the text memory of a served news corpus (vinewsqa-dev: 1.9 of 3.5 MiB)."""

    id: int
    article_id: str
    start: int
    end: int
    article_text: str = field(repr=False)

    @property
    def text(self) -> str:
        return self.article_text[self.start : self.end]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the score of every stage that saw it."""

    chunk: Chunk
    score: float
    rank: int
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Citation:
    """An exact quote: ``article.text[start:end] == quote``."""

    number: int
    article_id: str
    title: str
    date: str
    start: int
    end: int
    quote: str
    chunk_id: int


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citations: tuple[int, ...]
    support: float
    supported: bool


@dataclass(frozen=True)
class AnswerSpan:
    """A reader's best span in one window of a passage: ``passage`` indexes the passages read,
    ``start``/``end`` are characters in it; ``score`` (start + end logit) against ``null``
    (the window's no-answer score)."""

    passage: int
    start: int
    end: int
    score: float
    null: float

    @property
    def margin(self) -> float:
        return self.score - self.null


@dataclass(frozen=True)
class ShortAnswer:
    """The exact answer span inside the sentence that ``citation`` quotes:
    ``article.text[start:end] == text``."""

    text: str
    citation: int
    start: int
    end: int
    score: float


@dataclass
class Answer:
    question: str
    text: str
    sentences: list[AnswerSentence]
    citations: list[Citation]
    refused: bool
    hits: list[Hit]
    standalone_question: str = ""
    answerer: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    short: ShortAnswer | None = None


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, used to understand follow-up questions."""

    question: str
    answer: str = ""

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        """The turn an answer makes: its standalone question, so a chain of follow-ups
        ("Còn ở Bắc Kạn?", "Còn Lạng Sơn?") keeps its subject."""
        return cls(answer.standalone_question or answer.question, answer.text)


@dataclass(frozen=True)
class QueryTerms:
    """A question's keyword terms, and whether they are folded (typed without diacritics)."""

    terms: list[str]
    folded: bool
