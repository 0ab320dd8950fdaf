"""The request-body limit, enforced while the body is read.

A declared ``Content-Length`` over the limit is answered 413 at once, before anything is read;
a body without one (chunked) is counted as it arrives by Starlette's
``RequestBodyLimitMiddleware``, which stops the reading with a 413 as soon as the count passes
the limit. Admin uploads have their own, larger, limit.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from web.errors import Problem, respond


def too_large(limit: int | None) -> Problem:
    """The 413 for a body over ``limit`` bytes."""
    limit_text = f" (tối đa {limit:,} byte)".replace(",", ".") if limit is not None else ""
    return Problem(413, "body_too_large", f"Nội dung gửi lên quá lớn{limit_text}.")


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, per_path: dict[str, int]) -> None:
        self.limit = limit
        self.per_path = per_path
        self._default = RequestBodyLimitMiddleware(app, max_body_size=limit)
        self._larger = {
            path: RequestBodyLimitMiddleware(app, max_body_size=n) for path, n in per_path.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._default(scope, receive, send)
            return
        path = scope["path"]
        limit = self.per_path.get(path, self.limit)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await respond(Request(scope), too_large(limit))(scope, receive, send)
            return
        await self._larger.get(path, self._default)(scope, receive, send)
