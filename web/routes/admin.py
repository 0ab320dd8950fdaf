"""Articles managed in the page (admins only): upload, list and delete files, re-index in the
background. ``/admin/articles`` is the page (its forms work without JavaScript);
``/api/admin/...`` the same as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qa.core.errors import HoidapError
from qa.pipeline import Pipeline
from web.admin_schemas import ReindexOut, UploadedOut, UploadResultOut
from web.deps import AdminDep, FormDep, PipelineDep, TemplatesDep
from web.reindex import Reindexer
from web.responses import errors
from web.uploads import UploadResult, Uploads

router = APIRouter(
    tags=["quản trị"],
    responses=errors(403, e403="Chỉ quản trị viên được làm việc này (và không từ trang khác)."),
)
# the upload forms and API: their bodies may be larger (HOIDAP_MAX_UPLOAD_REQUEST_BYTES)
UPLOAD_PATHS = ("/admin/articles", "/api/admin/uploads")
Files = Annotated[
    list[UploadFile], File(min_length=1, description="Tệp .txt, .md, .html hoặc .jsonl.")
]


def _uploads(request: Request) -> Uploads:
    return request.app.state.uploads


def _reindexer(request: Request) -> Reindexer:
    return request.app.state.reindexer


def _indexed(pipeline: Pipeline) -> dict[str, str]:
    try:
        return {a.id: a.path for a in pipeline.articles()}
    except HoidapError:  # no index yet, or an unreadable one: nothing to clash with
        return {}


async def _receive(
    request: Request, files: list[UploadFile], pipeline: Pipeline
) -> list[UploadResult]:
    uploads = _uploads(request)
    indexed = _indexed(pipeline)
    results = []
    for file in files:
        # one byte over the limit is enough to know it is too large
        data = await file.read(uploads.max_bytes + 1)
        results.append(uploads.add(file.filename or "", data, indexed))
    return results


# ----- the page -----


def _page(
    request: Request, templates: TemplatesDep, results: list[UploadResult], status: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "admin_articles.html",
        {
            "files": _uploads(request).files(),
            "results": results,
            "job": ReindexOut.of(_reindexer(request).status()),
            "max_bytes": _uploads(request).max_bytes,
        },
        status_code=status,
    )


@router.get("/admin/articles", response_class=HTMLResponse, include_in_schema=False)
def admin_page(request: Request, templates: TemplatesDep, admin: AdminDep) -> HTMLResponse:
    return _page(request, templates, [])


@router.post("/admin/articles", response_class=HTMLResponse, include_in_schema=False)
async def upload_form(
    request: Request, files: Files, pipeline: PipelineDep, templates: TemplatesDep, admin: AdminDep
) -> HTMLResponse:
    results = await _receive(request, files, pipeline)
    status = 200 if any(r.accepted for r in results) else 422
    return _page(request, templates, results, status)


@router.post("/admin/articles/delete", include_in_schema=False)
def delete_form(request: Request, form: FormDep, admin: AdminDep) -> Response:
    _uploads(request).remove(form.get("name", ""))
    return RedirectResponse("/admin/articles", status_code=303)


@router.post("/admin/reindex", include_in_schema=False)
def reindex_form(request: Request, admin: AdminDep) -> Response:
    _reindexer(request).start()
    return RedirectResponse("/admin/articles#reindex", status_code=303)


# ----- the API -----


@router.get("/api/admin/uploads", response_model=list[UploadedOut], summary="Tệp đã tải lên")
def uploaded(request: Request, admin: AdminDep) -> list[UploadedOut]:
    return [UploadedOut.of(f) for f in _uploads(request).files()]


@router.post("/api/admin/uploads", response_model=list[UploadResultOut], summary="Tải bài viết lên")
async def upload(
    request: Request, files: Files, pipeline: PipelineDep, admin: AdminDep
) -> list[UploadResultOut]:
    """Mỗi tệp được kiểm tra như khi lập chỉ mục; kết quả từng tệp (nhận, hoặc lý do từ chối).
    Bài mới được trả lời sau khi lập chỉ mục lại."""
    return [UploadResultOut.of(r) for r in await _receive(request, files, pipeline)]


@router.delete(
    "/api/admin/uploads/{name}",
    status_code=204,
    summary="Xoá tệp đã tải lên",
    responses=errors(404, e404="Không có tệp này."),
)
def delete_upload(
    name: Annotated[str, Path(min_length=1)], request: Request, admin: AdminDep
) -> Response:
    _uploads(request).remove(name)
    return Response(status_code=204)


@router.get("/api/admin/reindex", response_model=ReindexOut, summary="Tiến độ lập chỉ mục")
def reindex_status(request: Request, admin: AdminDep) -> ReindexOut:
    return ReindexOut.of(_reindexer(request).status())


@router.post(
    "/api/admin/reindex", response_model=ReindexOut, status_code=202, summary="Lập chỉ mục lại"
)
def reindex(request: Request, admin: AdminDep) -> ReindexOut:
    """Chạy nền; câu hỏi vẫn được trả lời bằng chỉ mục cũ cho đến khi chỉ mục mới sẵn sàng."""
    return ReindexOut.of(_reindexer(request).start())
