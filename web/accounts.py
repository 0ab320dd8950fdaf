"""Accounts for a shared server (``HOIDAP_AUTH=accounts``): users, roles and API tokens.

Kept in the conversations database (tables ``users`` and ``api_tokens``). Passwords are hashed
with argon2id; API tokens are random and stored as their SHA-256 (a token has enough entropy
that a fast hash cannot be searched, unlike a password).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from qa.core.errors import AuthenticationError, InputError, NotFoundError

Role = Literal["reader", "admin"]
MIN_PASSWORD_CHARS = 8
TOKEN_PREFIX = "hd_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_WRONG = "Sai tên đăng nhập hoặc mật khẩu."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'admin')),
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: float
    tokens: int = 0


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(
            f"Tên người dùng không hợp lệ: {name!r} (1–64 ký tự: chữ không dấu, số, _ . @ -; "
            "bắt đầu bằng chữ hoặc số)."
        )
    return name


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Accounts:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._hasher = PasswordHasher()
        # verifying an unknown name costs as much as a known one, so names cannot be probed
        self._dummy = self._hasher.hash(secrets.token_hex(16))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, name: str, password: str, role: Role = "reader") -> User:
        check_name(name)
        if len(password) < MIN_PASSWORD_CHARS:
            raise InputError(f"Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự.")
        hashed = self._hasher.hash(password)
        now = time.time()
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                    (name, hashed, role, now),
                )
            except sqlite3.IntegrityError as exc:
                raise InputError(f"Đã có người dùng {name!r}.") from exc
        return User(name, role, now)

    def remove(self, name: str) -> None:
        """The user and their tokens go; their conversations stay in the database."""
        with self._lock:
            if not self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise NotFoundError(f"Không có người dùng {name!r}.")

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute(
                "SELECT u.name, u.role, u.created_at, COUNT(t.token_hash) AS tokens FROM users u"
                " LEFT JOIN api_tokens t ON t.user = u.name GROUP BY u.name ORDER BY u.name"
            ).fetchall()
        return [User(**row) for row in rows]

    def user(self, name: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, created_at FROM users WHERE name = ?", (name,)
            ).fetchone()
        return User(**row) if row else None

    def verify(self, name: str, password: str) -> User:
        """The user whose password this is; a wrong name or password says the same."""
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, created_at, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        try:
            self._hasher.verify(row["password_hash"] if row else self._dummy, password)
        except (VerificationError, InvalidHashError) as exc:
            raise AuthenticationError(_WRONG) from exc
        if row is None:
            raise AuthenticationError(_WRONG)
        if self._hasher.check_needs_rehash(row["password_hash"]):
            with self._lock:
                self._db.execute(
                    "UPDATE users SET password_hash = ? WHERE name = ?",
                    (self._hasher.hash(password), name),
                )
        return User(row["name"], row["role"], row["created_at"])

    def new_token(self, name: str) -> str:
        """A new API token for the user, shown once: only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO api_tokens (token_hash, user, created_at) VALUES (?, ?, ?)",
                    (_token_hash(token), name, time.time()),
                )
            except sqlite3.IntegrityError as exc:  # the foreign key: no such user
                raise NotFoundError(f"Không có người dùng {name!r}.") from exc
        return token

    def user_for_token(self, token: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT u.name, u.role, u.created_at FROM api_tokens t"
                " JOIN users u ON u.name = t.user WHERE t.token_hash = ?",
                (_token_hash(token),),
            ).fetchone()
        return User(**row) if row else None
