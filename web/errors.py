"""Which HTTP status and message a user gets for each error.

The exception handlers in ``web.app`` answer with these; a server-sent event stream that fails
after its headers are out reports the same problem in its ``error`` event.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.core.errors import (
    AuthenticationError,
    BackendError,
    HoidapError,
    IndexCorruptError,
    IndexMissingError,
    IndexUnavailableError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
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
}
_UNEXPECTED = "Đã xảy ra lỗi không mong muốn ở máy chủ. Vui lòng thử lại sau."


@dataclass(frozen=True)
class Problem:
    status: int
    kind: str  # stable and machine-readable, e.g. "input_error"
    message: str  # for people, in Vietnamese

    def body(self) -> dict[str, dict[str, str | int]]:
        """The JSON error of every /api and /v1 response; OpenAI's shape, so its clients read it."""
        return {"error": {"message": self.message, "type": self.kind, "code": self.status}}


def describe(exc: Exception) -> Problem:
    """Library errors carry a message written for users; anything else stays in the log."""
    if not isinstance(exc, HoidapError):
        return Problem(500, "internal_error", _UNEXPECTED)
    status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 500)
    return Problem(status, _snake(type(exc).__name__), str(exc))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
