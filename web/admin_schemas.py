"""Bodies of the admin API (``/api/admin``): uploaded files and the re-index job."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from web.reindex import ReindexStatus
from web.uploads import Uploaded, UploadResult


class UploadedOut(BaseModel):
    name: str
    size: int
    modified: float

    @classmethod
    def of(cls, item: Uploaded) -> UploadedOut:
        return cls(name=item.name, size=item.size, modified=item.modified)


class UploadResultOut(BaseModel):
    filename: str = Field(description="The name the file was sent with.")
    name: str | None = Field(description="The name it is kept under (null when rejected early).")
    accepted: bool
    message: str
    articles: list[str] = Field(description="Ids of the articles the file holds.")

    @classmethod
    def of(cls, result: UploadResult) -> UploadResultOut:
        return cls(
            filename=result.filename,
            name=result.name or None,
            accepted=result.accepted,
            message=result.message,
            articles=list(result.articles),
        )


class ReindexOut(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    stage: str = Field(description="`load`, `embed` or `keywords` while running.")
    percent: int = Field(ge=0, le=100)
    message: str
    started_at: float | None
    finished_at: float | None

    @classmethod
    def of(cls, status: ReindexStatus) -> ReindexOut:
        return cls(
            state=status.state,
            stage=status.stage,
            percent=round(status.fraction * 100),
            message=status.message,
            started_at=status.started_at,
            finished_at=status.finished_at,
        )
