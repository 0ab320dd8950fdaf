"""Which HTTP status and message a user gets for each error, and the response that says it.

The exception handlers in ``web.app`` and the edge middleware (``web.hosts``, ``web.limits``)
answer with ``respond``; a server-sent event stream that fails after its headers are out reports
the same problem in its ``error`` event.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from qa.core.errors import (
    AuthenticationError,
    BackendError,
    BusyError,
    HoidapError,
    IndexCorruptError,
    IndexMissingError,
    IndexUnavailableError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    UnknownModelError,
)

_STATUS: dict[type[HoidapError], int] = {
    InputError: 422,
    NotFoundError: 404,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    IndexMissingError: 503,
    IndexCorruptError: 503,
    IndexUnavailableError: 503,
    BackendError: 502,
    BusyError: 503,
}
# OpenAI's own type, param and code, so its clients recognise these errors
_OPENAI: dict[type[HoidapError], tuple[str, str, str]] = {
    UnknownModelError: ("invalid_request_error", "model", "model_not_found"),
}
_JSON_PATHS = ("/api/", "/v1/", "/healthz", "/openapi.json")
_UNEXPECTED = "Đã xảy ra lỗi không mong muốn ở máy chủ. Vui lòng thử lại sau."


@dataclass(frozen=True)
class Problem:
    status: int
    kind: str  # stable and machine-readable, e.g. "input_error"
    message: str  # for people, in Vietnamese
    param: str | None = None  # the request field at fault, when OpenAI's clients expect one
    code: str | None = None  # OpenAI's code for the error (default: the HTTP status)

    def body(self) -> dict[str, dict[str, str | int | None]]:
        """The JSON error of every /api and /v1 response; OpenAI's shape, so its clients read it."""
        error: dict[str, str | int | None] = {"message": self.message, "type": self.kind}
        if self.code is not None:
            error["param"] = self.param
        error["code"] = self.code or self.status
        return {"error": error}


def describe(exc: Exception) -> Problem:
    """Library errors carry a message written for users; anything else stays in the log."""
    if not isinstance(exc, HoidapError):
        return Problem(500, "internal_error", _UNEXPECTED)
    status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 500)
    if type(exc) in _OPENAI:
        kind, param, code = _OPENAI[type(exc)]
        return Problem(status, kind, str(exc), param, code)
    return Problem(status, _snake(type(exc).__name__), str(exc))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(_JSON_PATHS)


def respond(request: Request, problem: Problem, headers: dict[str, str] | None = None) -> Response:
    """The JSON error under /api, /v1 and /healthz; the HTML error page everywhere else."""
    if wants_json(request):
        return JSONResponse(problem.body(), status_code=problem.status, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"problem": problem}, status_code=problem.status, headers=headers
    )
