"""Each browser, client id and token owns its conversations; nobody else can list, read,
continue or rate them (they get 404, as for an id that does not exist)."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.pipeline import Pipeline
from tests.conftest import make_settings
from web.app import create_app
from web.conversations import LOCAL_OWNER, ConversationStore
from web.sessions import COOKIE

QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"


@pytest.fixture
def app(pipeline: Pipeline) -> FastAPI:
    return create_app(pipeline.settings, pipeline)


@pytest.fixture
def browsers(app: FastAPI) -> Iterator[tuple[TestClient, TestClient]]:
    """Two browsers: each keeps its own cookies."""
    with TestClient(app) as first, TestClient(app) as second:
        yield first, second


def ask(client: TestClient, **extra: Any) -> dict[str, Any]:
    headers = extra.pop("headers", {})
    response = client.post("/api/ask", json={"question": QUESTION, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def listed(client: TestClient, headers: dict[str, str] | None = None) -> list[str]:
    response = client.get("/api/conversations", headers=headers or {})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()]


def test_two_browsers_do_not_see_each_other(browsers: tuple[TestClient, TestClient]) -> None:
    first, second = browsers
    mine = ask(first)
    theirs = ask(second)
    assert listed(first) == [mine["conversation_id"]]
    assert listed(second) == [theirs["conversation_id"]]
    page = second.get("/").text
    assert mine["conversation_id"] not in page and theirs["conversation_id"] in page


def test_another_owners_conversation_is_not_found(
    browsers: tuple[TestClient, TestClient],
) -> None:
    first, second = browsers
    mine = ask(first)
    cid, mid = mine["conversation_id"], mine["message_id"]
    unknown = second.get("/api/conversations/no-such-id")
    assert unknown.status_code == 404
    for response in (
        second.get(f"/api/conversations/{cid}"),
        second.get(f"/c/{cid}"),
        second.post("/api/ask", json={"question": QUESTION, "conversation_id": cid}),
        second.post("/api/feedback", json={"message_id": mid, "rating": "down"}),
        second.post("/feedback", data={"message_id": mid, "rating": "down"}),
    ):
        assert response.status_code == 404, response.text
    # the same message as for an id that does not exist, apart from the id itself
    assert second.get(f"/api/conversations/{cid}").json()["error"]["message"] == unknown.json()[
        "error"
    ]["message"].replace("no-such-id", cid)
    [turn] = first.get(f"/api/conversations/{cid}").json()["turns"]
    assert turn["rating"] is None  # the other browser's rating did not land


def test_a_caller_without_cookie_is_not_in_a_browsers_sidebar(app: FastAPI) -> None:
    with TestClient(app) as browser, TestClient(app) as curl:
        mine = ask(browser)
        for _ in range(2):
            ask(curl)
            curl.cookies.clear()  # like curl: every request without a cookie
        assert listed(browser) == [mine["conversation_id"]]
        assert "Tỷ lệ" in browser.get("/").text
        assert listed(curl) == []  # each of its requests was a new anonymous owner


def test_client_id_header_owns_its_conversations(app: FastAPI) -> None:
    with TestClient(app) as api:
        alice = {"X-Client-Id": "alice-script-01"}
        first = ask(api, headers=alice)
        api.cookies.clear()
        follow = ask(api, headers=alice, conversation_id=first["conversation_id"])
        assert follow["conversation_id"] == first["conversation_id"]
        api.cookies.clear()
        assert listed(api, alice) == [first["conversation_id"]]
        assert listed(api, {"X-Client-Id": "bob-script-0001"}) == []
        other = api.get(
            f"/api/conversations/{first['conversation_id']}",
            headers={"X-Client-Id": "bob-script-0001"},
        )
        assert other.status_code == 404


def test_bearer_token_names_the_owner_without_accounts(app: FastAPI) -> None:
    with TestClient(app) as api:
        token = {"Authorization": "Bearer sk-anything"}
        made = ask(api, headers=token)
        api.cookies.clear()
        assert listed(api, token) == [made["conversation_id"]]
        assert listed(api, {"Authorization": "Bearer sk-other"}) == []


def test_a_too_short_client_id_is_refused(app: FastAPI) -> None:
    with TestClient(app) as api:
        response = api.get("/api/conversations", headers={"X-Client-Id": "abc"})
    assert response.status_code == 422
    assert "X-Client-Id" in response.json()["error"]["message"]


def test_session_cookie_is_signed_httponly_and_lax(app: FastAPI) -> None:
    with TestClient(app) as browser:
        response = browser.get("/")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        mine = ask(browser)
        # a forged cookie is not that browser: it gets a new, empty history
        value = browser.cookies[COOKIE]
        browser.cookies.clear()
        browser.cookies.set(COOKIE, value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB"))
        assert listed(browser) == []
        browser.cookies.clear()
        browser.cookies.set(COOKIE, value)
        assert listed(browser) == [mine["conversation_id"]]


def test_secret_key_is_made_once_private_and_reused(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    with TestClient(create_app(settings, pipeline)) as before:
        made = ask(before)
        cookie = before.cookies[COOKIE]
    path = settings.data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with TestClient(create_app(settings, pipeline)) as after:  # a restarted server
        after.cookies.set(COOKIE, cookie)
        assert listed(after) == [made["conversation_id"]]


def test_configured_secret_key_is_used(pipeline: Pipeline, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "other", secret_key="s" * 40)
    with TestClient(create_app(settings, pipeline)) as browser:
        browser.get("/")
    assert not (settings.data_dir / "secret_key").exists()


def _old_database(path: Path) -> None:
    """A conversations database from before owners: no owner column."""
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL,
                created_at REAL NOT NULL, updated_at REAL NOT NULL);
            CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                question TEXT NOT NULL, answer_text TEXT NOT NULL, answer_json TEXT NOT NULL,
                created_at REAL NOT NULL);
            INSERT INTO conversations VALUES ('old-1', 'Câu hỏi cũ', 1.0, 2.0);
            """
        )


def test_old_database_gains_owners_and_the_first_browser_adopts_it(pipeline: Pipeline) -> None:
    _old_database(pipeline.settings.db_path)
    store = ConversationStore(pipeline.settings.db_path)
    assert [c.id for c in store.conversations(owner=LOCAL_OWNER)] == ["old-1"]
    store.close()
    app = create_app(pipeline.settings, pipeline)
    browser_accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with TestClient(app) as curl, TestClient(app) as first, TestClient(app) as second:
        assert "Câu hỏi cũ" not in curl.get("/").text  # a script is not the browser
        assert "Câu hỏi cũ" in first.get("/", headers=browser_accept).text
        assert listed(first) == ["old-1"]
        assert "Câu hỏi cũ" not in second.get("/", headers=browser_accept).text
        assert listed(second) == []
