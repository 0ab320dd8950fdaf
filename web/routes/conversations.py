"""Past conversations and feedback on answers: ``/api/conversations``, ``/api/feedback``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from web.deps import ChatDep, OwnerDep, StoreDep
from web.responses import errors
from web.schemas import (
    SEARCH_CHARS,
    ConversationOut,
    ConversationSummary,
    FeedbackOut,
    FeedbackRequest,
    RenameRequest,
)

router = APIRouter(prefix="/api", tags=["trò chuyện"])
ConversationId = Annotated[str, Path(min_length=1)]
_MISSING = "Không có cuộc trò chuyện mang mã này (của người hỏi)."


@router.get(
    "/conversations", response_model=list[ConversationSummary], summary="Các cuộc trò chuyện"
)
def conversations(
    store: StoreDep,
    owner: OwnerDep,
    q: Annotated[
        str,
        Query(
            max_length=SEARCH_CHARS,
            description="Chỉ những cuộc có tên hoặc câu hỏi chứa chuỗi này (không phân biệt"
            " hoa thường và dấu).",
        ),
    ] = "",
) -> list[ConversationSummary]:
    """Các cuộc trò chuyện của người hỏi (phiên trình duyệt, `X-Client-Id` hoặc token),
    gần đây nhất đứng đầu."""
    return [ConversationSummary.of(c) for c in store.search_conversations(q, owner=owner.id)]


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="Một cuộc trò chuyện",
    responses=errors(404, e404=_MISSING),
)
def conversation(conversation_id: ConversationId, chat: ChatDep) -> ConversationOut:
    """Mọi lượt hỏi đáp của cuộc trò chuyện, kèm câu trả lời và đánh giá; cuộc trò chuyện của
    người khác trả 404 như không tồn tại."""
    return chat.conversation(conversation_id)


@router.patch(
    "/conversations/{conversation_id}",
    response_model=ConversationSummary,
    summary="Đổi tên cuộc trò chuyện",
    responses=errors(403, 404, e404=_MISSING),
)
def rename(
    conversation_id: ConversationId, body: RenameRequest, store: StoreDep, owner: OwnerDep
) -> ConversationSummary:
    return ConversationSummary.of(store.rename(conversation_id, body.title, owner=owner.id))


@router.delete(
    "/conversations/{conversation_id}",
    status_code=204,
    response_class=Response,
    summary="Xoá cuộc trò chuyện",
    responses=errors(403, 404, e404=_MISSING),
)
def delete(conversation_id: ConversationId, store: StoreDep, owner: OwnerDep) -> Response:
    """Xoá cuộc trò chuyện cùng mọi lượt hỏi đáp và đánh giá của nó."""
    store.delete(conversation_id, owner=owner.id)
    return Response(status_code=204)


@router.post(
    "/feedback",
    response_model=FeedbackOut,
    summary="Đánh giá câu trả lời",
    responses=errors(403, 404, e404="Không có câu trả lời `message_id` (của người hỏi)."),
)
def feedback(body: FeedbackRequest, store: StoreDep, owner: OwnerDep) -> FeedbackOut:
    """`up` hoặc `down`, kèm nhận xét nếu muốn; đánh giá lại sẽ thay đánh giá trước."""
    saved = store.rate(body.message_id, body.rating, body.comment.strip(), owner=owner.id)
    return FeedbackOut(
        message_id=saved.message_id,
        conversation_id=saved.conversation_id,
        rating=saved.rating,
        comment=saved.comment,
    )
