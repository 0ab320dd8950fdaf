"""Past conversations and feedback on answers: ``/api/conversations``, ``/api/feedback``."""

from __future__ import annotations

from fastapi import APIRouter

from web.deps import ChatDep, OwnerDep, StoreDep
from web.schemas import ConversationOut, ConversationSummary, FeedbackOut, FeedbackRequest

router = APIRouter(prefix="/api", tags=["trò chuyện"])


@router.get(
    "/conversations", response_model=list[ConversationSummary], summary="Các cuộc trò chuyện"
)
def conversations(store: StoreDep, owner: OwnerDep) -> list[ConversationSummary]:
    """Các cuộc trò chuyện của người hỏi (phiên trình duyệt, `X-Client-Id` hoặc token),
    gần đây nhất đứng đầu."""
    return [ConversationSummary.of(c) for c in store.conversations(owner=owner.id)]


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    summary="Một cuộc trò chuyện",
)
def conversation(conversation_id: str, chat: ChatDep) -> ConversationOut:
    """Mọi lượt hỏi đáp của cuộc trò chuyện, kèm câu trả lời và đánh giá; cuộc trò chuyện của
    người khác trả 404 như không tồn tại."""
    return chat.conversation(conversation_id)


@router.post("/feedback", response_model=FeedbackOut, summary="Đánh giá câu trả lời")
def feedback(body: FeedbackRequest, store: StoreDep, owner: OwnerDep) -> FeedbackOut:
    """`up` hoặc `down`, kèm nhận xét nếu muốn; đánh giá lại sẽ thay đánh giá trước."""
    saved = store.rate(body.message_id, body.rating, body.comment.strip(), owner=owner.id)
    return FeedbackOut(
        message_id=saved.message_id,
        conversation_id=saved.conversation_id,
        rating=saved.rating,
        comment=saved.comment,
    )
