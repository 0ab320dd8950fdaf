"""The HTML pages: chat, conversations, article browser. Forms work without JavaScript too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qa import components
from qa.core.errors import InputError
from web.deps import (
    ArticleSearchDep,
    ChatDep,
    ComputeDep,
    FormDep,
    OwnerDep,
    PipelineDep,
    SettingsDep,
    StartersDep,
    StoreDep,
    TemplatesDep,
)
from web.schemas import (
    COMMENT_CHARS,
    SEARCH_CHARS,
    ArticleSummary,
    ConversationOut,
    ConversationSummary,
    conversation_url,
)

router = APIRouter(include_in_schema=False)


def _chat_page(
    request: Request,
    templates: TemplatesDep,
    store: StoreDep,
    settings: SettingsDep,
    owner: str,
    conversation: ConversationOut | None,
    query: str = "",
    starters: list[str] | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "chat.html",
        {
            "conversation": conversation,
            "conversations": [
                ConversationSummary.of(c) for c in store.search_conversations(query, owner=owner)
            ],
            "query": query,
            "starters": starters or [],
            "max_question_chars": settings.max_question_chars,
            "streams": components.answer_streams(settings),
        },
    )


@router.get("/", response_class=HTMLResponse)
def new_chat(
    request: Request,
    templates: TemplatesDep,
    store: StoreDep,
    settings: SettingsDep,
    pipeline: PipelineDep,
    starters: StartersDep,
    owner: OwnerDep,
    q: Annotated[str, Query(max_length=SEARCH_CHARS)] = "",
) -> HTMLResponse:
    return _chat_page(
        request, templates, store, settings, owner.id, None, q, starters.questions(pipeline)
    )


@router.get("/c/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    conversation_id: str,
    request: Request,
    chat: ChatDep,
    templates: TemplatesDep,
    store: StoreDep,
    settings: SettingsDep,
) -> HTMLResponse:
    conversation = chat.conversation(conversation_id)
    return _chat_page(request, templates, store, settings, chat.owner, conversation)


@router.post("/c")
async def ask_form(form: FormDep, chat: ChatDep, compute: ComputeDep) -> Response:
    """The ask form without JavaScript: answer, then show the conversation at the new turn."""
    # a starter question's button sends it as "starter", beside the (empty) question box
    question = form.get("starter") or form.get("question", "")
    reply = await compute.run(chat.ask, question, form.get("conversation_id") or None)
    return RedirectResponse(
        f"{conversation_url(reply.conversation_id)}#m-{reply.message_id}", status_code=303
    )


@router.post("/feedback")
def feedback_form(form: FormDep, store: StoreDep, owner: OwnerDep) -> Response:
    rating = form.get("rating")
    if rating not in ("up", "down"):
        raise InputError("Hãy chọn “Hữu ích” hoặc “Chưa tốt”.")
    comment = form.get("comment", "")
    if len(comment) > COMMENT_CHARS:
        raise InputError(f"Nhận xét quá dài ({len(comment)} ký tự; tối đa {COMMENT_CHARS}).")
    comment = comment.strip()
    saved = store.rate(form.get("message_id", ""), rating, comment, owner=owner.id)
    return RedirectResponse(
        f"{conversation_url(saved.conversation_id)}#m-{saved.message_id}", status_code=303
    )


@router.get("/articles", response_class=HTMLResponse)
def article_list(
    request: Request,
    pipeline: PipelineDep,
    search: ArticleSearchDep,
    templates: TemplatesDep,
    q: Annotated[str, Query(max_length=SEARCH_CHARS)] = "",
) -> HTMLResponse:
    matches = [
        {"article": ArticleSummary.of(m.article), "snippet": m.snippet}
        for m in search.search(pipeline.data, q)
    ]
    return templates.TemplateResponse(
        request,
        "articles.html",
        {"matches": matches, "query": q, "total": len(pipeline.data.articles)},
    )


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(
    article_id: str,
    request: Request,
    pipeline: PipelineDep,
    templates: TemplatesDep,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
    answer_start: Annotated[int | None, Query(ge=0)] = None,
    answer_end: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    found = pipeline.article(article_id)
    before, marked, after = _split(found.text, start, end, "Đoạn cần tô sáng")
    inner = ("", marked, "")
    if answer_start is not None or answer_end is not None:
        if start is None or answer_start is None or answer_end is None:
            raise InputError("Câu trả lời ngắn cần cả answer_start, answer_end và start, end.")
        inner = _split(marked, answer_start - start, answer_end - start, "Câu trả lời ngắn")
    return templates.TemplateResponse(
        request,
        "article.html",
        {"article": found, "before": before, "marked": marked, "inner": inner, "after": after},
    )


def _split(text: str, start: int | None, end: int | None, what: str) -> tuple[str, str, str]:
    """The text before, inside and after the span ``text[start:end]``."""
    if start is None and end is None:
        return text, "", ""
    if start is None or end is None or not 0 <= start < end <= len(text):
        raise InputError(
            f"{what} không hợp lệ (start={start}, end={end}); đoạn văn dài {len(text)} ký tự."
        )
    return text[:start], text[start:end], text[end:]
