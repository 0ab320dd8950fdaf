"""Asking and searching: ``/api/ask``, ``/api/ask/stream``, ``/api/search``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from qa.core.settings import MAX_K
from qa.pipeline import Pipeline
from web import sse
from web.deps import ChatDep, ComputeDep, PipelineDep
from web.errors import Problem
from web.responses import errors
from web.schemas import (
    NOT_BLANK,
    AskRequest,
    AskResponse,
    PassageOut,
    SearchResponse,
    max_length_setting,
)

router = APIRouter(prefix="/api", tags=["hỏi đáp"])

_STREAM_DOC = """\
Trả lời qua `text/event-stream`: các sự kiện `delta` (`{"text": "..."}`), rồi một sự kiện
`answer` với JSON như `POST /api/ask`, hoặc một sự kiện `error`
(`{"error": {"message", "type", "code"}}`). Chỉ bộ trả lời dùng mô hình ngôn ngữ (`llm`,
`openai`) viết dần từng đoạn; bộ đọc và bộ trả lời theo từ khóa gửi cả câu trả lời trong một
`delta`. Câu hỏi không hợp lệ nhận lỗi JSON trước khi luồng bắt đầu."""


_ASKING = errors(403, 404, 503, e404="Không có cuộc trò chuyện `conversation_id` (của người hỏi).")


@router.post("/ask", response_model=AskResponse, summary="Hỏi", responses=_ASKING)
async def ask(body: AskRequest, chat: ChatDep, compute: ComputeDep) -> AskResponse:
    """Trả lời kèm trích dẫn, hoặc từ chối; gửi `conversation_id` để hỏi tiếp trong cuộc trò chuyện."""
    return await compute.run(chat.ask, body.question, body.conversation_id)


@router.post(
    "/ask/stream",
    response_class=StreamingResponse,
    summary="Hỏi, nhận câu trả lời dần dần",
    description=_STREAM_DOC,
    responses={200: {"content": {"text/event-stream": {}}}, **_ASKING},
)
async def ask_stream(body: AskRequest, chat: ChatDep, compute: ComputeDep) -> StreamingResponse:
    events = await compute.run(chat.stream, body.question, body.conversation_id)
    return StreamingResponse(
        compute.iterate(sse.guarded(_encode(events), _error_event)),
        media_type="text/event-stream",
        headers=sse.HEADERS,
    )


def _encode(events: Iterator[str | AskResponse]) -> Iterator[str]:
    for item in events:
        if isinstance(item, AskResponse):
            yield sse.event(item.model_dump_json(), "answer")
        else:
            yield sse.event(json.dumps({"text": item}, ensure_ascii=False), "delta")


def _error_event(problem: Problem) -> str:
    return sse.event(json.dumps(problem.body(), ensure_ascii=False), "error")


@router.get("/search", response_model=SearchResponse, summary="Tìm đoạn văn", responses=errors(503))
async def search(
    pipeline: PipelineDep,
    compute: ComputeDep,
    q: Annotated[
        str,
        Query(
            description="Câu hỏi hoặc từ khoá, tối đa `max_question_chars` ký tự.",
            json_schema_extra={**NOT_BLANK, **max_length_setting("max_question_chars")},
        ),
    ],
    k: Annotated[int | None, Query(ge=1, le=MAX_K, description="Số đoạn trả về.")] = None,
) -> SearchResponse:
    """Các đoạn văn gần với câu hỏi nhất, kèm điểm của từng bước truy hồi."""
    return await compute.run(_search, pipeline, q, k)


def _search(pipeline: Pipeline, q: str, k: int | None) -> SearchResponse:
    articles = pipeline.data.articles
    hits = pipeline.search(q, k)
    return SearchResponse(
        query=q, passages=[PassageOut.of(h, articles[h.chunk.article_id]) for h in hits]
    )
