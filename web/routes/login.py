"""Signing in and out (``HOIDAP_AUTH=accounts``): ``/login``, ``/logout``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import URL

from qa.core.errors import AuthenticationError
from web.deps import AccountsDep, FormDep, SettingsDep, StoreDep, TemplatesDep
from web.owners import user_owner

router = APIRouter(include_in_schema=False)


def login_url(after: URL) -> str:
    target = after.path + (f"?{after.query}" if after.query else "")
    return f"/login?next={quote(target, safe='')}"


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never ``//host`` or ``https://…`` (an open redirect)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, templates: TemplatesDep, settings: SettingsDep, next: str | None = None
) -> Response:
    if settings.auth == "none":
        return RedirectResponse("/", status_code=303)
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": "", "name": ""}
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    form: FormDep,
    accounts: AccountsDep,
    store: StoreDep,
    templates: TemplatesDep,
    settings: SettingsDep,
) -> Response:
    target = _safe_next(form.get("next"))
    if settings.auth == "none":
        return RedirectResponse(target, status_code=303)
    name = form.get("name", "").strip()
    try:
        user = accounts.verify(name, form.get("password", ""))
    except AuthenticationError as exc:
        context = {"next": target, "error": str(exc), "name": name}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    request.session.clear()
    request.session["user"] = user.name
    if user.role == "admin":
        # the first admin to sign in adopts the conversations from before owners
        store.adopt(user_owner(user).id)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, settings: SettingsDep) -> Response:
    request.session.clear()
    return RedirectResponse("/login" if settings.auth == "accounts" else "/", status_code=303)
