"""OpenAI-compatible endpoints: ``/v1/chat/completions`` and ``/v1/models``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from qa.core.types import Answer
from web import sse
from web.deps import ComputeDep, PipelineDep, SettingsDep
from web.errors import Problem
from web.openai_compat import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    Usage,
    absolute,
    answerer_for,
    completion,
    completion_id,
    content,
    now,
    served_models,
    sources_text,
)
from web.responses import errors
from web.schemas import CitationOut

router = APIRouter(prefix="/v1", tags=["OpenAI"])

_ERRORS = errors(
    403,
    404,
    503,
    e404="`model` không có trong `GET /v1/models`: lỗi theo kiểu OpenAI "
    '(`type: "invalid_request_error"`, `param: "model"`, `code: "model_not_found"`), '
    "thông báo liệt kê các mô hình hợp lệ.",
)


@router.get("/models", response_model=ModelList, summary="Mô hình (tương thích OpenAI)")
def models(settings: SettingsDep) -> ModelList:
    """Các `model` dùng được trong `POST /v1/chat/completions`: `hoidap` là bộ trả lời máy chủ
    đang dùng (`HOIDAP_ANSWERER`), cũng có tên `hoidap-<bộ trả lời>`; `hoidap-extractive` (theo
    từ khóa) và `hoidap-reader` (bộ đọc) chạy ngay trong máy chủ nên luôn có; `hoidap-llm` và
    `hoidap-openai` chỉ có khi máy chủ được cấu hình dùng chúng."""
    return ModelList(data=[ModelCard(id=name) for name in served_models(settings)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completions (tương thích OpenAI)",
    responses={200: {"content": {"text/event-stream": {}}}, **_ERRORS},
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    pipeline: PipelineDep,
    settings: SettingsDep,
    compute: ComputeDep,
) -> ChatCompletion | StreamingResponse:
    """Trả lời tin nhắn `user` cuối cùng; các lượt trước là lịch sử. `stream: true` gửi các sự
    kiện `chat.completion.chunk`, kết thúc bằng `data: [DONE]`; với
    `stream_options: {"include_usage": true}`, chunk cuối (trước `[DONE]`) có `usage` và
    `choices` rỗng. Nguồn được nối vào cuối nội dung (danh sách đánh số, mỗi nguồn có liên kết
    tuyệt đối) và có trong trường `citations`; liên kết dựa trên `HOIDAP_PUBLIC_URL`, nếu không
    đặt thì trên địa chỉ của chính yêu cầu. `usage` đếm token bằng bộ tách token của mô hình
    nhúng (với bộ nhúng thử `hash:` thì đếm từ và dấu câu): câu hỏi và lịch sử như máy chủ đọc
    (không tính tin nhắn `system`), và nội dung trả về."""
    answerer = answerer_for(settings, body.model)
    question, history = body.question_and_history()
    text = pipeline.check_question(question)
    base_url = settings.public_url or str(request.base_url)

    def usage(sent: str) -> Usage:
        return Usage.counted(pipeline.token_counter, text, history, sent)

    if not body.stream:
        answer = await compute.run(partial(pipeline.ask, text, history, answerer=answerer))
        citations = absolute([CitationOut.of(c) for c in answer.citations], base_url)
        sent = content(answer, citations)
        return completion(sent, citations, body.model, usage(sent))
    events = await compute.run(sse.primed, pipeline.ask_stream(text, history, answerer=answerer))
    chunks = _chunks(events, body.model, base_url, usage if body.include_usage else None)
    return StreamingResponse(
        compute.iterate(sse.guarded(chunks, _error_chunk)),
        media_type="text/event-stream",
        headers=sse.HEADERS,
    )


def _chunks(
    events: Iterator[str | Answer],
    model: str,
    base_url: str,
    usage: Callable[[str], Usage] | None,
) -> Iterator[str]:
    """The answer as chunks; with ``usage``, every chunk has ``usage: null`` and a last one
    with no choices has the counts (as OpenAI sends them)."""
    chunk_id, created = completion_id(), now()
    extra: dict[str, Any] = {"usage": None} if usage else {}

    def chunk(choices: list[dict[str, Any]], **fields: Any) -> str:
        body = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
            **extra,
            **fields,
        }
        return sse.event(json.dumps(body, ensure_ascii=False))

    def delta(delta: dict[str, str], finish: str | None = None, **fields: Any) -> str:
        return chunk([{"index": 0, "delta": delta, "finish_reason": finish}], **fields)

    yield delta({"role": "assistant", "content": ""})
    sent: list[str] = []
    for item in events:
        if isinstance(item, Answer):
            citations = absolute([CitationOut.of(c) for c in item.citations], base_url)
            # an answerer that wrote no deltas (the extractive one) gives its text here
            tail = ("" if sent else item.text) + sources_text(citations)
            if tail:
                sent.append(tail)
                yield delta({"content": tail})
            yield delta({}, "stop", citations=[c.model_dump() for c in citations])
        else:
            sent.append(item)
            yield delta({"content": item})
    if usage:
        yield chunk([], usage=usage("".join(sent)).model_dump())
    yield sse.event("[DONE]")


def _error_chunk(problem: Problem) -> str:
    return sse.event(json.dumps(problem.body(), ensure_ascii=False)) + sse.event("[DONE]")
