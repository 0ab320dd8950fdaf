"""OpenAI-compatible endpoints: ``/v1/chat/completions`` and ``/v1/models``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from qa.core.types import Answer
from web import sse
from web.deps import ComputeDep, PipelineDep
from web.errors import Problem
from web.openai_compat import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    completion,
    completion_id,
    now,
    sources_text,
)
from web.schemas import CitationOut

router = APIRouter(prefix="/v1", tags=["OpenAI"])


@router.get("/models", response_model=ModelList, summary="Mô hình (tương thích OpenAI)")
def models() -> ModelList:
    return ModelList(data=[ModelCard()])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completions (tương thích OpenAI)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    body: ChatCompletionRequest, pipeline: PipelineDep, compute: ComputeDep
) -> ChatCompletion | StreamingResponse:
    """Trả lời tin nhắn `user` cuối cùng; các lượt trước là lịch sử. `stream: true` gửi các sự
    kiện `chat.completion.chunk`, kết thúc bằng `data: [DONE]`. Nguồn được nối vào cuối nội dung
    (danh sách đánh số) và có trong trường `citations`."""
    question, history = body.question_and_history()
    text = pipeline.check_question(question)
    if not body.stream:
        return completion(await compute.run(pipeline.ask, text, history), body.model)
    events = await compute.run(sse.primed, pipeline.ask_stream(text, history))
    return StreamingResponse(
        compute.iterate(sse.guarded(_chunks(events, body.model), _error_chunk)),
        media_type="text/event-stream",
        headers=sse.HEADERS,
    )


def _chunks(events: Iterator[str | Answer], model: str) -> Iterator[str]:
    chunk_id, created = completion_id(), now()

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
            **extra,
        }
        return sse.event(json.dumps(body, ensure_ascii=False))

    yield chunk({"role": "assistant", "content": ""})
    streamed = False
    for item in events:
        if isinstance(item, Answer):
            # an answerer that wrote no deltas (the extractive one) gives its text here
            tail = ("" if streamed else item.text) + sources_text(item)
            if tail:
                yield chunk({"content": tail})
            citations = [CitationOut.of(c).model_dump() for c in item.citations]
            yield chunk({}, "stop", citations=citations)
        else:
            streamed = True
            yield chunk({"content": item})
    yield sse.event("[DONE]")


def _error_chunk(problem: Problem) -> str:
    return sse.event(json.dumps(problem.body(), ensure_ascii=False)) + sse.event("[DONE]")
