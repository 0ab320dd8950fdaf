"""Request and response bodies of the HTTP API (they make up the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, BeforeValidator, Field

from qa.core.types import Answer, Article, Citation, Hit, ShortAnswer
from web.conversations import TITLE_CHARS, Conversation

SEARCH_CHARS = 200  # the longest search of articles or conversations
COMMENT_CHARS = 2000  # the longest feedback comment (the API and the form)


def _whole_characters(value: object) -> object:
    # JSON may spell half a UTF-16 pair ("\\ud800"); such a string cannot be stored or shown.
    # Checked before the length limits, which would fail on it with a vaguer message.
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = f"U+{ord(value[exc.start]):04X}"
        raise ValueError(f"chứa ký tự không hợp lệ {bad} (nửa cặp surrogate UTF-16)") from None
    return value


# Every string a request sends: a lone surrogate is a 422, not an error deep inside
UnicodeStr = Annotated[str, BeforeValidator(_whole_characters)]
# ``json_schema_extra`` of a text the server refuses when it is blank once trimmed, with its own
# message (so pydantic does not check it first): the schema says it (a JSON Schema pattern
# matches anywhere in the string)
NOT_BLANK: dict[str, object] = {"minLength": 1, "pattern": r"\S"}
MAX_LENGTH_SETTING = "x-max-length-setting"


def max_length_setting(name: str) -> dict[str, str]:
    """``json_schema_extra`` of a string whose longest length is the setting ``name``: the
    OpenAPI document of an app says its ``maxLength`` (``web.openapi``)."""
    return {MAX_LENGTH_SETTING: name}


def article_url(
    article_id: str,
    start: int | None = None,
    end: int | None = None,
    answer: tuple[int, int] | None = None,
) -> str:
    """The reader page of an article, highlighting ``text[start:end]`` when given, and inside
    it the short answer ``text[answer[0]:answer[1]]``."""
    url = f"/articles/{quote(article_id, safe='')}"
    if start is not None and end is not None:
        params = {"start": start, "end": end}
        if answer is not None:
            params |= {"answer_start": answer[0], "answer_end": answer[1]}
        url += "?" + urlencode(params)
    return url


def conversation_url(conversation_id: str) -> str:
    return f"/c/{quote(conversation_id, safe='')}"


class AskRequest(BaseModel):
    question: UnicodeStr = Field(
        description="Câu hỏi, tối đa `max_question_chars` ký tự.",
        json_schema_extra={**NOT_BLANK, **max_length_setting("max_question_chars")},
    )
    conversation_id: UnicodeStr | None = Field(
        default=None,
        min_length=1,
        description="Tiếp tục cuộc trò chuyện này (câu hỏi nối tiếp).",
    )


class CitationOut(BaseModel):
    number: int
    article_id: str
    title: str
    date: str
    start: int = Field(description="``article.text[start:end] == quote``")
    end: int
    quote: str
    url: str
    answer_start: int | None = Field(
        default=None, description="The short answer inside the quote, when this one holds it."
    )
    answer_end: int | None = None
    title_generated: bool = Field(
        default=False, description="The article has no title: `title` is its first words."
    )
    date_in_text: bool = Field(
        default=False, description="The article's header has no date: `date` was found in its text."
    )

    @classmethod
    def of(
        cls, citation: Citation, short: ShortAnswer | None = None, article: Article | None = None
    ) -> CitationOut:
        inner = (short.start, short.end) if short and short.citation == citation.number else None
        return cls(
            number=citation.number,
            article_id=citation.article_id,
            title=citation.title,
            date=citation.date,
            start=citation.start,
            end=citation.end,
            quote=citation.quote,
            url=article_url(citation.article_id, citation.start, citation.end, inner),
            answer_start=inner[0] if inner else None,
            answer_end=inner[1] if inner else None,
            title_generated=article.title_generated if article else False,
            date_in_text=article.date_in_text if article else False,
        )


class ShortAnswerOut(BaseModel):
    text: str = Field(description="The exact answer span: `article.text[start:end]`.")
    citation: int = Field(description="The citation whose quote holds the span.")
    start: int
    end: int
    score: float = Field(description="The reader's answer-over-no-answer margin.")

    @classmethod
    def of(cls, short: ShortAnswer) -> ShortAnswerOut:
        return cls(
            text=short.text,
            citation=short.citation,
            start=short.start,
            end=short.end,
            score=short.score,
        )


class SentenceOut(BaseModel):
    text: str
    citations: list[int] = Field(description="Numbers of the citations backing the sentence.")
    support: float
    supported: bool = Field(description="False when the answer checker found no support.")


class PassageOut(BaseModel):
    rank: int
    score: float
    scores: dict[str, float]
    article_id: str
    title: str
    date: str
    start: int
    end: int
    text: str
    url: str
    title_generated: bool = Field(
        description="The article has no title: `title` is its first words."
    )
    date_in_text: bool = Field(description="The header has no date: `date` was found in the text.")

    @classmethod
    def of(cls, hit: Hit, article: Article) -> PassageOut:
        return cls(
            rank=hit.rank,
            score=round(hit.score, 6),
            scores={name: round(value, 6) for name, value in hit.scores.items()},
            article_id=article.id,
            title=article.title,
            date=article.date,
            start=hit.chunk.start,
            end=hit.chunk.end,
            text=hit.chunk.text,
            url=article_url(article.id, hit.chunk.start, hit.chunk.end),
            title_generated=article.title_generated,
            date_in_text=article.date_in_text,
        )


class AnswerOut(BaseModel):
    """An answer as stored with its conversation turn."""

    question: str
    standalone_question: str
    text: str = Field(description="The answer with `[n]` citation markers.")
    short_answer: ShortAnswerOut | None = Field(
        default=None, description="The short answer (reader), inside the cited sentence."
    )
    sentences: list[SentenceOut]
    citations: list[CitationOut]
    refused: bool
    passages: list[PassageOut] = Field(description="The retrieved passages, closest first.")
    answerer: str
    timings: dict[str, float]
    notes: list[str]

    @classmethod
    def of(cls, answer: Answer, articles: Mapping[str, Article]) -> AnswerOut:
        """``articles`` holds at least every article the answer's hits come from."""
        return cls(
            question=answer.question,
            standalone_question=answer.standalone_question,
            text=answer.text,
            short_answer=ShortAnswerOut.of(answer.short) if answer.short else None,
            sentences=[
                SentenceOut(
                    text=s.text,
                    citations=list(s.citations),
                    support=s.support,
                    supported=s.supported,
                )
                for s in answer.sentences
            ],
            citations=[
                CitationOut.of(c, answer.short, articles.get(c.article_id))
                for c in answer.citations
            ],
            refused=answer.refused,
            passages=[PassageOut.of(h, articles[h.chunk.article_id]) for h in answer.hits],
            answerer=answer.answerer,
            timings={name: round(value, 4) for name, value in answer.timings.items()},
            notes=answer.notes,
        )


class AskResponse(AnswerOut):
    conversation_id: str
    message_id: str = Field(description="Send it with feedback on this answer.")


class SearchResponse(BaseModel):
    query: str
    passages: list[PassageOut]


class ArticleSummary(BaseModel):
    id: str
    title: str
    date: str
    source: str
    chars: int
    url: str
    title_generated: bool = Field(
        description="The article has no title: `title` is its first words."
    )
    date_in_text: bool = Field(description="The header has no date: `date` was found in the text.")

    @classmethod
    def of(cls, article: Article) -> ArticleSummary:
        return cls(
            id=article.id,
            title=article.title,
            date=article.date,
            source=article.source,
            chars=len(article.text),
            url=article_url(article.id),
            title_generated=article.title_generated,
            date_in_text=article.date_in_text,
        )


class ArticleOut(ArticleSummary):
    text: str = Field(description="The text that citation offsets point into.")

    @classmethod
    def of(cls, article: Article) -> ArticleOut:
        return cls(**ArticleSummary.of(article).model_dump(), text=article.text)


class FeedbackRequest(BaseModel):
    message_id: UnicodeStr
    rating: Literal["up", "down"]
    comment: UnicodeStr = Field(default="", max_length=COMMENT_CHARS)


class FeedbackOut(BaseModel):
    message_id: str
    conversation_id: str
    rating: Literal["up", "down"]
    comment: str


class ConversationSummary(BaseModel):
    id: str
    title: str
    created_at: float
    updated_at: float
    url: str

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationSummary:
        return cls(
            id=conversation.id,
            title=conversation.title,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            url=conversation_url(conversation.id),
        )


class RenameRequest(BaseModel):
    title: UnicodeStr = Field(
        min_length=1, max_length=TITLE_CHARS, description="Tên mới.", json_schema_extra=NOT_BLANK
    )


class TurnOut(BaseModel):
    message_id: str
    question: str
    answer: AnswerOut
    rating: Literal["up", "down"] | None
    comment: str


class ConversationOut(ConversationSummary):
    turns: list[TurnOut]


class Health(BaseModel):
    status: Literal["ok"]
    index_loaded: bool
    model: str
    answerer: str
    article_count: int
    chunk_count: int
    index_created_at: float
