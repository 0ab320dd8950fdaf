"""The indexed articles: ``/api/articles``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from web.deps import ArticleSearchDep, PipelineDep
from web.responses import errors
from web.schemas import SEARCH_CHARS, ArticleOut, ArticleSummary

router = APIRouter(prefix="/api/articles", tags=["bài viết"])


@router.get(
    "", response_model=list[ArticleSummary], summary="Danh sách bài viết", responses=errors(503)
)
def articles(
    pipeline: PipelineDep,
    search: ArticleSearchDep,
    q: Annotated[
        str,
        Query(
            max_length=SEARCH_CHARS,
            description="Chỉ những bài có cụm từ này (nguyên từ) trong tên hoặc nội dung, không"
            " phân biệt hoa thường và dấu; bài có nó trong tên đứng trước.",
        ),
    ] = "",
) -> list[ArticleSummary]:
    """Mọi bài viết đã lập chỉ mục (không kèm nội dung)."""
    return [ArticleSummary.of(m.article) for m in search.search(pipeline.data, q)]


@router.get(
    "/{article_id}",
    response_model=ArticleOut,
    summary="Một bài viết",
    responses=errors(404, 503, e404="Không có bài viết mang mã này."),
)
def article(article_id: Annotated[str, Path(min_length=1)], pipeline: PipelineDep) -> ArticleOut:
    """Bài viết kèm nội dung; vị trí `start`/`end` của trích dẫn trỏ vào `text` này."""
    return ArticleOut.of(pipeline.article(article_id))
