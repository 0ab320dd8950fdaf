"""Who may talk to the server: allowed ``Host`` names, and same-origin writes (CSRF).

Both are pure ASGI middleware that answer before the app (and before the body is read):

- ``AllowedHosts``: a request whose ``Host`` is not in ``HOIDAP_ALLOWED_HOSTS`` gets 400, so a
  page on a rebound DNS name (``attacker.example`` pointing at 127.0.0.1) cannot read the API.
- ``SameOrigin``: a POST, PUT, PATCH or DELETE that a browser sends from another page carries
  that page's ``Origin`` (or at least its ``Referer``); one that does not match the request's own
  ``Host`` gets 403. Browsers send ``Origin`` with every cross-origin POST, so forms and scripts on
  other sites are refused; clients that send neither header (curl, the OpenAI clients) are not
  browsers and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from web.errors import Problem, respond

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_and_port(authority: str, scheme: str) -> tuple[str, int | None]:
    """``example.org:8000`` -> ('example.org', 8000); a missing port is the scheme's default."""
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port
    except ValueError:  # a port that is not a number, an unclosed [ipv6
        return "", None
    return (parts.hostname or ""), port or _DEFAULT_PORTS.get(scheme)


class AllowedHosts:
    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = frozenset(name.strip("[]").lower() for name in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        name, _ = _host_and_port(host, scope.get("scheme", "http"))
        if name in self.hosts:
            await self.app(scope, receive, send)
            return
        problem = Problem(
            400,
            "invalid_host",
            f"Máy chủ không phục vụ tên {host!r}. Người quản trị có thể thêm tên này vào "
            "HOIDAP_ALLOWED_HOSTS.",
        )
        await respond(Request(scope), problem)(scope, receive, send)


class SameOrigin:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        sender = headers.get("origin") or headers.get("referer")
        if sender is None or _same_origin(sender, headers.get("host", "")):
            await self.app(scope, receive, send)
            return
        problem = Problem(
            403,
            "cross_origin",
            f"Yêu cầu này được gửi từ một trang khác ({sender[:100]}) nên bị từ chối, để chống "
            "giả mạo yêu cầu (CSRF). Hãy gửi từ chính trang hoidap.",
        )
        await respond(Request(scope), problem)(scope, receive, send)


def _same_origin(sender: str, host: str) -> bool:
    """Whether an ``Origin`` or ``Referer`` names the ``Host`` the request was sent to.

    A ``Host`` without a port takes the sender's default one: behind a proxy that ends TLS the
    page is ``https://name`` while the server hears ``Host: name`` over plain HTTP.
    """
    if sender == "null":  # a sandboxed frame, a data: URL or a file: page
        return False
    try:
        parts = urlsplit(sender)
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return False
    theirs = _host_and_port(parts.netloc, parts.scheme)
    ours = _host_and_port(host, parts.scheme)
    return bool(theirs[0]) and theirs == ours
