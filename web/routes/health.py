"""``/healthz``: whether the index is loaded, and what it holds."""

from __future__ import annotations

from fastapi import APIRouter

from web.deps import PipelineDep, SettingsDep
from web.responses import errors
from web.schemas import Health

router = APIRouter(tags=["hệ thống"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="Tình trạng chỉ mục",
    responses=errors(503, e503="Chưa có chỉ mục, hoặc chỉ mục không đọc được."),
)
def healthz(pipeline: PipelineDep, settings: SettingsDep) -> Health:
    manifest = pipeline.data.manifest
    return Health(
        status="ok",
        index_loaded=True,
        model=manifest.model,
        answerer=settings.answerer,
        article_count=manifest.article_count,
        chunk_count=manifest.chunk_count,
        index_created_at=manifest.created_at,
    )
