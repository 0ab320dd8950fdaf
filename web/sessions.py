"""The session cookie: signed (itsdangerous, through Starlette's ``SessionMiddleware``),
HttpOnly and SameSite=Lax. It holds who the browser is: an owner id, or the signed-in user.

The signing key is ``HOIDAP_SECRET_KEY``, or one generated once into ``DATA_DIR/secret_key``
(mode 0600) so that sessions survive restarts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from qa.core.settings import Settings

COOKIE = "hoidap_session"
MAX_AGE = 365 * 24 * 3600  # a browser keeps its history for a year of inactivity


def secret_key(settings: Settings) -> str:
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    path = settings.data_dir / "secret_key"
    if not path.exists():
        _create(path)
    return path.read_text("utf-8").strip()


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(48))


def add_sessions(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie=COOKIE,
        max_age=MAX_AGE,
        same_site="lax",
    )
