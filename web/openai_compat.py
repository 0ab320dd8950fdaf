"""OpenAI chat-completions shapes, so existing chat clients can use hoidap as a model.

The last user message is the question and earlier user/assistant pairs are its history. The
answer's sources are appended to the message content as a numbered list (clients show it as is)
and given as structured ``citations`` too.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.core.errors import InputError
from qa.core.types import Answer, Turn
from web.schemas import CitationOut, UnicodeStr

MODEL = "hoidap"
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


class ChatCompletionRequest(BaseModel):
    # sampling options (temperature, max_tokens, ...) are accepted and have no effect
    model_config = ConfigDict(extra="ignore")
    model: UnicodeStr = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False

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
    """hoidap does not count tokens; the fields are there for clients that expect them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage = Field(default_factory=Usage)
    citations: list[CitationOut]


class ModelCard(BaseModel):
    id: str = MODEL
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "hoidap"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def sources_text(answer: Answer) -> str:
    """The numbered sources appended to the answer (empty when nothing is cited)."""
    if not answer.citations:
        return ""
    lines = [
        f"[{c.number}] {c.title}" + (f" ({c.date})" if c.date else "") + f": “{c.quote}”"
        for c in answer.citations
    ]
    return _SOURCES + "\n".join(lines)


def completion(answer: Answer, model: str) -> ChatCompletion:
    return ChatCompletion(
        id=completion_id(),
        created=now(),
        model=model,
        choices=[Choice(message=AssistantMessage(content=answer.text + sources_text(answer)))],
        citations=[CitationOut.of(c) for c in answer.citations],
    )
