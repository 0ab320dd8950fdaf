"""The indexed articles: ``/api/articles``."""

from __future__ import annotations

from fastapi import APIRouter

from web.deps import PipelineDep
from web.schemas import ArticleOut, ArticleSummary

router = APIRouter(prefix="/api/articles", tags=["bài viết"])


@router.get("", response_model=list[ArticleSummary], summary="Danh sách bài viết")
def articles(pipeline: PipelineDep) -> list[ArticleSummary]:
    """Mọi bài viết đã lập chỉ mục (không kèm nội dung)."""
    return [ArticleSummary.of(a) for a in pipeline.articles()]


@router.get("/{article_id}", response_model=ArticleOut, summary="Một bài viết")
def article(article_id: str, pipeline: PipelineDep) -> ArticleOut:
    """Bài viết kèm nội dung; vị trí `start`/`end` của trích dẫn trỏ vào `text` này."""
    return ArticleOut.of(pipeline.article(article_id))
