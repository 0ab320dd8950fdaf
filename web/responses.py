"""The error responses the OpenAPI document lists: each status the server answers on a route,
with the JSON error body every /api, /v1 and /healthz error has (``web.errors.Problem``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    message: str = Field(description="Cho người đọc, bằng tiếng Việt.")
    type: str = Field(description="Loại lỗi cho máy đọc, ví dụ `input_error`, `not_found_error`.")
    param: str | None = Field(default=None, description="Trường gây lỗi (kiểu OpenAI), nếu có.")
    code: int | str = Field(description="Mã HTTP, hoặc mã lỗi kiểu OpenAI.")


class ErrorOut(BaseModel):
    error: ErrorDetail


_WHY: dict[int, str] = {
    400: "Tên máy chủ (`Host`) không nằm trong HOIDAP_ALLOWED_HOSTS, hoặc không đọc được nội "
    "dung gửi lên.",
    401: "HOIDAP_AUTH=accounts: chưa đăng nhập, hoặc API token sai.",
    403: "Yêu cầu ghi gửi từ một trang khác (chống CSRF), hoặc việc của quản trị viên.",
    404: "Không có mục mang mã này (hoặc nó thuộc về người khác).",
    413: "Nội dung gửi lên quá lớn (HOIDAP_MAX_BODY_BYTES; tải tệp lên: "
    "HOIDAP_MAX_UPLOAD_REQUEST_BYTES).",
    422: "Dữ liệu gửi lên không hợp lệ: thông báo nêu trường và lý do.",
    503: "Chưa có chỉ mục, chỉ mục hỏng hoặc không kết nối được, hoặc máy chủ đang bận "
    "(`Retry-After`).",
}


def errors(*statuses: int, **why: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each status with the error body; ``why`` (as
    ``e404="..."``) says it in the route's own words."""
    return {
        status: {"model": ErrorOut, "description": why.get(f"e{status}", _WHY[status])}
        for status in statuses
    }


# what the edges answer on every route: an unknown Host or a body that cannot be read, one too
# large, and invalid data
EDGES = errors(400, 413, 422)
