"""The mixed load run: many clients at once, each with its own connection and identity, each
sending a few different requests; afterwards every write the server acknowledged is looked up in
its SQLite database, and the database is checked whole (``PRAGMA integrity_check``).

Client ``i`` asks first (``/api/ask``, or ``/api/ask/stream`` for odd ``i``), then searches
(``/api/search``, or ``/v1/chat/completions`` for every other pair), then rates the answer it got
(``/api/feedback``): so a third of the requests write feedback, a third write conversations.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.stats import percentiles

KINDS = ("ask", "stream", "search", "v1", "feedback")


@dataclass
class Written:
    """What the server said it stored."""

    messages: dict[str, str] = field(default_factory=dict)  # message id -> conversation id
    ratings: dict[str, str] = field(default_factory=dict)  # message id -> rating


@dataclass
class MixedResult:
    clients: int
    per_client: int
    wall_s: float
    latencies: dict[str, list[float]]
    errors: Counter[str]  # "kind: what went wrong" -> count
    written: Written

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())


async def _client(
    i: int, url: str, questions: list[str], model: str, timeout_s: float, result: MixedResult
) -> None:
    headers = {"X-Client-Id": f"bench-client-{i:05d}"}
    question = questions[i % len(questions)]
    plan = ["stream" if i % 2 else "ask", "v1" if (i // 2) % 2 else "search", "feedback"]
    message_id = None
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout_s) as http:
        for kind in plan[: result.per_client]:
            if kind == "feedback" and message_id is None:
                result.errors["feedback: nothing to rate (the ask failed)"] += 1
                continue
            clock = time.perf_counter()
            try:
                outcome = await _send(http, kind, question, model, message_id, result.written)
            except (httpx.HTTPError, ValueError) as exc:
                result.errors[f"{kind}: {type(exc).__name__}"] += 1
                continue
            if isinstance(outcome, int):
                result.errors[f"{kind}: HTTP {outcome}"] += 1
                continue
            result.latencies[kind].append(time.perf_counter() - clock)
            message_id = outcome or message_id


async def _send(
    http: httpx.AsyncClient,
    kind: str,
    question: str,
    model: str,
    message_id: str | None,
    written: Written,
) -> str | int | None:
    """The new message id (asks), None (other successes), or the HTTP status of a failure."""
    if kind == "ask":
        response = await http.post("/api/ask", json={"question": question})
        if response.status_code != 200:
            return response.status_code
        return _acknowledged(response.json(), written)
    if kind == "stream":
        response = await http.post("/api/ask/stream", json={"question": question})
        if response.status_code != 200:
            return response.status_code
        answer = _answer_event(response.text)
        if answer is None:
            raise ValueError("the stream ended without an answer event")
        return _acknowledged(answer, written)
    if kind == "search":
        response = await http.get("/api/search", params={"q": question})
    elif kind == "v1":
        messages = [{"role": "user", "content": question}]
        response = await http.post(
            "/v1/chat/completions", json={"model": model, "messages": messages}
        )
    else:
        rating = "up" if len(question) % 2 else "down"
        body = {"message_id": message_id, "rating": rating, "comment": "bench"}
        response = await http.post("/api/feedback", json=body)
        if response.status_code == 200:
            written.ratings[str(message_id)] = rating
    return None if response.status_code == 200 else response.status_code


def _acknowledged(body: dict, written: Written) -> str:
    written.messages[body["message_id"]] = body["conversation_id"]
    return body["message_id"]


def _answer_event(text: str) -> dict | None:
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if "event: answer" in lines:
            data = next(line for line in lines if line.startswith("data: "))
            return json.loads(data.removeprefix("data: "))
    return None


def run(
    url: str, questions: list[str], *, clients: int, per_client: int, timeout_s: float
) -> MixedResult:
    result = MixedResult(clients, per_client, 0.0, {k: [] for k in KINDS}, Counter(), Written())
    model = httpx.get(f"{url}/v1/models", timeout=timeout_s).json()["data"][0]["id"]

    async def everyone() -> None:
        await asyncio.gather(
            *(_client(i, url, questions, model, timeout_s, result) for i in range(clients))
        )

    clock = time.perf_counter()
    asyncio.run(everyone())
    result.wall_s = time.perf_counter() - clock
    return result


def missing_writes(db_path: Path, written: Written) -> tuple[list[str], str]:
    """Acknowledged writes not found in the database, and what ``PRAGMA integrity_check`` says."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        integrity = ", ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
        stored = dict(db.execute("SELECT id, conversation_id FROM messages"))
        conversations = {row[0] for row in db.execute("SELECT id FROM conversations")}
        ratings = dict(db.execute("SELECT message_id, rating FROM feedback"))
    finally:
        db.close()
    missing = [
        f"message {m}"
        for m, c in written.messages.items()
        if stored.get(m) != c or c not in conversations
    ]
    missing += [f"rating of {m}" for m, r in written.ratings.items() if ratings.get(m) != r]
    return missing, integrity


def latency_rows(result: MixedResult) -> list[list[object]]:
    """Per kind of request, then all together: count, errors, p50, p95 (ms)."""
    rows: list[list[object]] = []
    everything = [t for times in result.latencies.values() for t in times]
    for kind, times in [*result.latencies.items(), ("all", everything)]:
        errors = (
            sum(result.errors.values())
            if kind == "all"
            else sum(n for what, n in result.errors.items() if what.startswith(f"{kind}:"))
        )
        p = percentiles(times) if times else {"p50": 0.0, "p95": 0.0}
        rows.append([kind, len(times), errors, f"{p['p50'] * 1000:.0f}", f"{p['p95'] * 1000:.0f}"])
    return rows
