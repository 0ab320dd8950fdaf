"""OpenAI chat-completions shapes, so existing chat clients can use hoidap as a model.

The last user message is the question and earlier user/assistant pairs are its history. The
answer's sources are appended to the message content as a numbered list with absolute links
(clients show it as is) and given as structured ``citations`` too. ``usage`` counts tokens with
the pipeline's token counter: the texts the server reads (question and history) and the content
it sends.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.core.errors import InputError, UnknownModelError
from qa.core.protocols import TokenCounter
from qa.core.settings import Settings
from qa.core.types import Answer, Turn
from web.schemas import CitationOut, UnicodeStr

MODEL = "hoidap"
# answerers that run in the server process whatever the settings name (the LLM ones need a
# model file or an endpoint, so only the configured one is offered)
_LOCAL = ("extractive", "reader")
_SOURCES = "\n\nNguồn:\n"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: UnicodeStr
    text: UnicodeStr = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: UnicodeStr
    content: UnicodeStr | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = Field(
        default=False, description="Gửi thêm một chunk cuối có `usage` và `choices` rỗng."
    )


class ChatCompletionRequest(BaseModel):
    # sampling options (temperature, max_tokens, ...) are accepted and have no effect
    model_config = ConfigDict(extra="ignore")
    model: UnicodeStr = Field(default=MODEL, description="Một `id` trong `GET /v1/models`.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    def question_and_history(self) -> tuple[str, list[Turn]]:
        *earlier, last = self.messages
        if last.role != "user":
            raise InputError("Tin nhắn cuối cùng phải là câu hỏi của người dùng (role: user).")
        history: list[Turn] = []
        pending: str | None = None
        for message in earlier:
            if message.role == "user":
                if pending is not None:
                    history.append(Turn(pending))
                pending = message.text
            elif message.role == "assistant" and pending is not None:
                history.append(Turn(pending, message.text.split(_SOURCES, 1)[0]))
                pending = None
        if pending is not None:
            history.append(Turn(pending))
        return last.text, history


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Tokens of the question and history as the server reads them (system messages and the
    sources list of earlier answers are not read) and of the content sent back."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def counted(
        cls, counter: TokenCounter, question: str, history: list[Turn], content: str
    ) -> Usage:
        read = [question, *(text for turn in history for text in (turn.question, turn.answer))]
        prompt = sum(counter.count(text) for text in read if text)
        completion = counter.count(content)
        return cls(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        )


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[CitationOut]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "hoidap"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def served_models(settings: Settings) -> dict[str, str]:
    """Model ids and the answerer each runs: ``hoidap`` is the configured answerer, also
    named ``hoidap-<answerer>``, then the other answerers the server can run itself."""
    names = dict.fromkeys([settings.answerer, *_LOCAL])
    return {MODEL: settings.answerer} | {f"{MODEL}-{name}": name for name in names}


def answerer_for(settings: Settings, model: str) -> str:
    """The answerer model id ``model`` names; an unknown id is refused with the valid ones."""
    served = served_models(settings)
    if model not in served:
        raise UnknownModelError(
            f"Không có mô hình {model!r}. Các mô hình hoidap phục vụ: {', '.join(served)}."
        )
    return served[model]


def absolute(citations: list[CitationOut], base_url: str) -> list[CitationOut]:
    """The citations with their links made absolute on ``base_url`` (the server's address)."""
    base = base_url.rstrip("/")
    return [c.model_copy(update={"url": base + c.url}) for c in citations]


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def sources_text(citations: list[CitationOut]) -> str:
    """The numbered sources appended to the answer, each with its link (empty when nothing is
    cited)."""
    if not citations:
        return ""
    lines = [
        f"[{c.number}] {c.title}" + (f" ({c.date})" if c.date else "") + f": “{c.quote}” {c.url}"
        for c in citations
    ]
    return _SOURCES + "\n".join(lines)


def content(answer: Answer, citations: list[CitationOut]) -> str:
    """The message content: the answer, then its numbered sources."""
    return answer.text + sources_text(citations)


def completion(text: str, citations: list[CitationOut], model: str, usage: Usage) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id(),
        created=now(),
        model=model,
        choices=[Choice(message=AssistantMessage(content=text))],
        usage=usage,
        citations=citations,
    )
