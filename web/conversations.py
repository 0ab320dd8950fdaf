"""Conversations, their turns and the feedback on answers, kept in SQLite.

Every conversation has an owner (``web.owners``): only its owner lists, reads, continues or
rates it; to anyone else it does not exist. Databases made before owners existed gain the column
with their rows owned by ``LOCAL_OWNER``, which the first browser to open the chat adopts.

One connection in WAL mode, shared by the server's threads and guarded by a lock: every read and
write goes through it, so requests from many tabs never interleave inside a transaction. Other
processes (a second server, the CLI) can still read and write; ``busy_timeout`` makes them wait
for each other instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qa.core.errors import InputError, NotFoundError
from qa.core.types import Turn
from qa.text.vietnamese import fold

Rating = Literal["up", "down"]
TITLE_CHARS = 200  # for a title given by renaming
LOCAL_OWNER = "local"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT 'local'
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer_text TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, seq);
CREATE TABLE IF NOT EXISTS feedback (
    message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
);
"""
_OWNER_INDEX = (
    "CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations(owner, updated_at)"
)


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created_at: float
    updated_at: float
    owner: str = LOCAL_OWNER


@dataclass(frozen=True)
class Message:
    """One turn: a question and the answer to it (``answer_json`` as the API returned it)."""

    id: str
    conversation_id: str
    question: str
    answer_text: str
    answer_json: str
    created_at: float
    rating: Rating | None = None
    comment: str = ""


@dataclass(frozen=True)
class Feedback:
    message_id: str
    conversation_id: str
    rating: Rating
    comment: str


def _new_id() -> str:
    return uuid.uuid4().hex


class ConversationStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        # searching ignores case and diacritics: "cao bang" finds "Cao Bằng"
        self._db.create_function("fold", 1, fold, deterministic=True)
        self._db.executescript(_SCHEMA)
        self._add_owner_column()

    def _add_owner_column(self) -> None:
        """Databases from before owners: their conversations become the local user's."""
        with self._transaction() as db:
            columns = {row["name"] for row in db.execute("PRAGMA table_info(conversations)")}
            if "owner" not in columns:
                db.execute(
                    "ALTER TABLE conversations ADD COLUMN owner TEXT NOT NULL"
                    f" DEFAULT '{LOCAL_OWNER}'"
                )
            db.execute(_OWNER_INDEX)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ----- reading -----
    def conversations(self, *, owner: str, limit: int = 50) -> list[Conversation]:
        """The owner's most recently active conversations first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM conversations WHERE owner = ?"
                " ORDER BY updated_at DESC, rowid DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [Conversation(**row) for row in rows]

    def search_conversations(
        self, query: str, *, owner: str, limit: int = 50
    ) -> list[Conversation]:
        """Conversations whose title or any question holds ``query`` (case and diacritics
        ignored), the most recently active first."""
        needle = fold(" ".join(query.split()))
        if not needle:
            return self.conversations(owner=owner, limit=limit)
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM conversations c WHERE c.owner = :owner AND (instr(fold(c.title), :q)"
                " OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id"
                " AND instr(fold(m.question), :q)))"
                " ORDER BY updated_at DESC, rowid DESC LIMIT :limit",
                {"q": needle, "owner": owner, "limit": limit},
            ).fetchall()
        return [Conversation(**row) for row in rows]

    def conversation(self, conversation_id: str, *, owner: str) -> Conversation:
        """The owner's conversation; another owner's is not found, as if it did not exist."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"Không có cuộc trò chuyện mã {conversation_id!r}.")
        return Conversation(**row)

    def messages(self, conversation_id: str, *, owner: str) -> list[Message]:
        """The turns of a conversation in order, each with its feedback if any."""
        self.conversation(conversation_id, owner=owner)
        with self._lock:
            rows = self._db.execute(
                "SELECT m.id, m.conversation_id, m.question, m.answer_text, m.answer_json,"
                " m.created_at, f.rating, COALESCE(f.comment, '') AS comment"
                " FROM messages m LEFT JOIN feedback f ON f.message_id = m.id"
                " WHERE m.conversation_id = ? ORDER BY m.seq",
                (conversation_id,),
            ).fetchall()
        return [Message(**row) for row in rows]

    def history(self, conversation_id: str, *, owner: str) -> list[Turn]:
        return [
            Turn(json.loads(m.answer_json).get("standalone_question") or m.question, m.answer_text)
            for m in self.messages(conversation_id, owner=owner)
        ]

    # ----- writing -----
    def add_turn(
        self,
        conversation_id: str | None,
        question: str,
        answer_text: str,
        answer_json: str,
        *,
        owner: str,
    ) -> Message:
        """Append a turn, starting a conversation titled after the question when none is given."""
        now = time.time()
        message = Message(
            id=_new_id(),
            conversation_id=_new_id() if conversation_id is None else conversation_id,
            question=question,
            answer_text=answer_text,
            answer_json=answer_json,
            created_at=now,
        )
        with self._transaction() as db:
            if conversation_id is None:
                db.execute(
                    "INSERT INTO conversations (id, title, created_at, updated_at, owner)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (message.conversation_id, _title(question), now, now, owner),
                )
            elif not db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ? AND owner = ?",
                (now, conversation_id, owner),
            ).rowcount:
                raise NotFoundError(f"Không có cuộc trò chuyện mã {conversation_id!r}.")
            db.execute(
                "INSERT INTO messages"
                " (id, conversation_id, question, answer_text, answer_json, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (message.id, message.conversation_id, question, answer_text, answer_json, now),
            )
        return message

    def rate(self, message_id: str, rating: Rating, comment: str = "", *, owner: str) -> Feedback:
        """Record feedback on one of the owner's answers; rating it again replaces the earlier
        feedback."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT m.conversation_id FROM messages m"
                " JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.id = ? AND c.owner = ?",
                (message_id, owner),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"Không có câu trả lời mã {message_id!r}.")
            db.execute(
                "INSERT INTO feedback (message_id, rating, comment, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE"
                " SET rating = excluded.rating, comment = excluded.comment,"
                " updated_at = excluded.updated_at",
                (message_id, rating, comment, time.time()),
            )
        return Feedback(message_id, row["conversation_id"], rating, comment)

    def rename(self, conversation_id: str, title: str, *, owner: str) -> Conversation:
        """Give a conversation a title of its own (whitespace collapsed, not empty)."""
        line = " ".join(title.split())
        if not line:
            raise InputError("Tên cuộc trò chuyện trống. Hãy nhập một tên.")
        if len(line) > TITLE_CHARS:
            raise InputError(
                f"Tên cuộc trò chuyện quá dài ({len(line)} ký tự; tối đa {TITLE_CHARS} ký tự)."
            )
        with self._transaction() as db:
            if not db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?",
                (line, conversation_id, owner),
            ).rowcount:
                raise NotFoundError(f"Không có cuộc trò chuyện mã {conversation_id!r}.")
        return self.conversation(conversation_id, owner=owner)

    def delete(self, conversation_id: str, *, owner: str) -> None:
        """Remove a conversation with its turns and their feedback."""
        with self._transaction() as db:
            if not db.execute(
                "DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).rowcount:
                raise NotFoundError(f"Không có cuộc trò chuyện mã {conversation_id!r}.")

    def adopt(self, owner: str, *, previous: str = LOCAL_OWNER) -> int:
        """Give ``previous``'s conversations to ``owner``; how many there were."""
        with self._transaction() as db:
            return db.execute(
                "UPDATE conversations SET owner = ? WHERE owner = ?", (owner, previous)
            ).rowcount


def _title(question: str) -> str:
    """The whole question on one line (the page shortens it to fit and shows it on hover)."""
    return " ".join(question.split())
