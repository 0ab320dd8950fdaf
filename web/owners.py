"""Who is asking, and so whose conversations a request sees.

- ``HOIDAP_AUTH=none`` (the default): one local user, nothing to configure. Each browser is its
  own owner (an id in its session cookie). API callers name themselves with an
  ``X-Client-Id: <8-200 characters>`` header or an ``Authorization: Bearer <anything>`` token
  (the OpenAI clients send one); a caller with neither is a new anonymous owner, which keeps its
  conversations only if it keeps the session cookie. Callers on loopback are admins.
- ``HOIDAP_AUTH=accounts``: a browser signs in at ``/login``; an API caller sends
  ``Authorization: Bearer <token>`` with a token from ``qa user token NAME``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass

from fastapi import Request

from qa.core.errors import AuthenticationError, InputError, PermissionDeniedError
from web.accounts import Accounts, Role, User
from web.conversations import ConversationStore

CLIENT_ID_HEADER = "X-Client-Id"
_CLIENT_ID_CHARS = (8, 200)


@dataclass(frozen=True)
class Owner:
    id: str  # what the conversations' owner column holds
    role: Role
    user: str = ""  # the signed-in user's name (accounts)

    def require_admin(self) -> None:
        if self.role != "admin":
            raise PermissionDeniedError("Chỉ quản trị viên được làm việc này.")


def user_owner(user: User) -> Owner:
    return Owner(f"user:{user.name}", user.role, user.name)


def resolve(request: Request) -> Owner:
    """The owner of this request, worked out once per request."""
    owner: Owner | None = getattr(request.state, "owner", None)
    if owner is None:
        owner = request.state.owner = _resolve(request)
    return owner


def _resolve(request: Request) -> Owner:
    settings = request.app.state.settings
    accounts: Accounts = request.app.state.accounts
    token = _bearer(request)
    if settings.auth == "accounts":
        if token is not None:
            user = accounts.user_for_token(token)
            if user is None:
                raise AuthenticationError("API token không hợp lệ hoặc đã bị thu hồi.")
            return user_owner(user)
        name = request.session.get("user")
        user = accounts.user(name) if isinstance(name, str) else None
        if user is None:
            raise AuthenticationError("Hãy đăng nhập để tiếp tục.")
        return user_owner(user)
    role: Role = "admin" if _on_loopback(request) else "reader"
    if token is not None:
        return Owner(f"token:{_digest(token)}", role)
    client = request.headers.get(CLIENT_ID_HEADER)
    if client is not None:
        return Owner(f"client:{_digest(_check_client_id(client))}", role)
    return Owner(_browser(request), role)


def _browser(request: Request) -> str:
    owner = request.session.get("owner")
    if isinstance(owner, str) and owner.startswith("browser:"):
        return owner
    owner = f"browser:{uuid.uuid4().hex}"
    request.session["owner"] = owner
    if "text/html" in request.headers.get("Accept", ""):
        # the first browser to open a page adopts the conversations from before owners (a
        # script fetching a page without asking for HTML, such as plain curl, does not)
        store: ConversationStore = request.app.state.store
        store.adopt(owner)
    return owner


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not value.strip():
        raise AuthenticationError("Tiêu đề Authorization: Bearer cần một token.")
    return value.strip()


def _check_client_id(value: str) -> str:
    low, high = _CLIENT_ID_CHARS
    if not low <= len(value.strip()) <= high:
        raise InputError(f"{CLIENT_ID_HEADER} cần từ {low} đến {high} ký tự (nhận {len(value)}).")
    return value.strip()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _on_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def viewer(request: Request) -> dict[str, object]:
    """For every template: who is looking (None on the sign-in page, and on the pages the edge
    middleware answers before sessions: ``web.hosts``, ``web.limits``) and how people sign in."""
    if "session" not in request.scope:
        return {"viewer": None, "auth": request.app.state.settings.auth}
    try:
        owner: Owner | None = resolve(request)
    except (AuthenticationError, InputError):
        owner = None
    return {"viewer": owner, "auth": request.app.state.settings.auth}
