"""The server's edges: allowed hosts, same-origin writes (CSRF), the body limit, bad text."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.types import Message

from qa.core.settings import LOOPBACK_HOSTS, Settings
from qa.pipeline import Pipeline
from tests.conftest import make_settings
from web.app import create_app
from web.limits import BodyLimit
from web.routes import admin, articles, ask, conversations, docs, health, login, openai, pages

QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"
EVIL = "http://attacker.example"
LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture
def app(pipeline: Pipeline) -> FastAPI:
    return create_app(pipeline.settings, pipeline)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # on loopback, so that the admin forms get past the role check too
    with TestClient(app, client=LOOPBACK) as client:
        yield client


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]["message"]


# ----- allowed hosts -----


def test_another_host_name_is_refused(client: TestClient) -> None:
    client.post("/api/ask", json={"question": QUESTION})
    response = client.get("/api/conversations", headers={"Host": "attacker.example"})
    assert "attacker.example" in error(response, 400)
    assert "HOIDAP_ALLOWED_HOSTS" in response.text
    page = client.get("/", headers={"Host": "attacker.example:8000"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert page.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST:80"])
def test_the_loopback_names_are_served_by_default(tmp_path: Any, host: str) -> None:
    settings = make_settings(tmp_path, allowed_hosts=list(LOOPBACK_HOSTS))
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/conversations", headers={"Host": host}).status_code == 200
        assert client.get("/api/conversations").status_code == 400  # Host: testserver


def test_allowed_hosts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOIDAP_ALLOWED_HOSTS", "hoidap.example, 10.0.0.5")
    assert Settings().allowed_hosts == ["hoidap.example", "10.0.0.5"]
    assert Settings().served_hosts() == ["hoidap.example", "10.0.0.5", "127.0.0.1"]


def test_the_bound_host_is_served_but_not_a_wildcard_address() -> None:
    assert Settings(host="hoidap.lan").served_hosts() == [*LOOPBACK_HOSTS, "hoidap.lan"]
    assert Settings(host="0.0.0.0").served_hosts() == list(LOOPBACK_HOSTS)
    assert Settings(host="::").served_hosts() == list(LOOPBACK_HOSTS)


def test_a_star_allows_any_host(tmp_path: Any) -> None:
    with TestClient(create_app(make_settings(tmp_path, allowed_hosts=["*"]))) as client:
        assert client.get("/api/conversations", headers={"Host": "a.example"}).status_code == 200


# ----- same-origin writes (CSRF) -----


def _writes() -> list[tuple[str, str]]:
    """Every route that changes something: the forms and the API alike."""
    writes = []
    areas = (admin, articles, ask, conversations, docs, health, login, openai, pages)
    for route in [r for area in areas for r in area.router.routes]:
        if isinstance(route, APIRoute):
            path = route.path.replace("{conversation_id}", "x").replace("{name}", "x")
            writes += [(m, path) for m in sorted(route.methods & {"POST", "PATCH", "DELETE"})]
    return writes


def test_every_form_and_api_write_is_found() -> None:
    writes = _writes()
    for form in ["/c", "/feedback", "/login", "/logout", "/admin/articles", "/admin/reindex"]:
        assert ("POST", form) in writes
    assert ("POST", "/admin/articles/delete") in writes
    assert ("DELETE", "/api/conversations/x") in writes


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://testserver.attacker.example"},
        {"Referer": f"{EVIL}/trap.html"},
        {"Origin": "http://testserver:8001"},
    ],
)
def test_a_write_from_another_origin_is_refused(
    app: FastAPI, client: TestClient, headers: dict[str, str]
) -> None:
    for method, path in _writes():
        response = client.request(method, path, headers=headers, data={"question": QUESTION})
        assert response.status_code == 403, (method, path, response.text)
        assert "CSRF" in response.text
    assert client.get("/api/conversations").json() == []


def test_the_refusal_of_a_form_is_a_page(client: TestClient) -> None:
    response = client.post("/c", data={"question": QUESTION}, headers={"Origin": EVIL})
    assert response.status_code == 403 and "text/html" in response.headers["content-type"]
    assert "CSRF" in response.text and "attacker.example" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "https://testserver"},  # behind a proxy that ends TLS
        {"Referer": "http://testserver/c/abc"},
        {},  # not a browser: curl, the OpenAI clients
    ],
)
def test_a_write_from_the_same_origin_is_served(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/c", data={"question": QUESTION}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert len(client.get("/api/conversations").json()) == 1


# ----- the request-body limit -----


def test_a_declared_body_over_the_limit_is_refused_unread(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pipeline.settings.model_copy(update={"max_body_bytes": 1000})
    asked: list[str] = []
    monkeypatch.setattr(pipeline, "ask", lambda *args, **kw: asked.append("ask"))
    with TestClient(create_app(settings, pipeline)) as client:
        body = b'{"question": "' + b"a" * 2000 + b'"}'
        response = client.post(
            "/api/ask", content=body, headers={"Content-Type": "application/json"}
        )
        assert "1.000 byte" in error(response, 413)
        page = client.post("/c", data={"question": "a" * 2000})
        assert page.status_code == 413 and "text/html" in page.headers["content-type"]
    assert asked == []


def test_a_chunked_body_over_the_limit_is_refused(pipeline: Pipeline) -> None:
    settings = pipeline.settings.model_copy(update={"max_body_bytes": 1000})

    def chunks() -> Iterator[bytes]:  # no Content-Length: only counting finds it
        yield b'{"question": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'"}'

    with TestClient(create_app(settings, pipeline)) as client:
        response = client.post(
            "/api/ask", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "1.000 byte" in error(response, 413)
        form = client.post(
            "/feedback",
            content=(b"comment=" + b"a" * 600 for _ in range(3)),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 413


def test_the_reading_stops_at_the_limit() -> None:
    """Straight through the ASGI interface: a 1 MB chunked body against a 10 kB limit."""
    received = 0
    sent: list[Message] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        from starlette.requests import Request

        await Request(scope, receive).body()
        raise AssertionError("the body was read past the limit")

    async def receive() -> Message:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": received < 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/ask", "headers": []}
    asyncio.run(BodyLimit(app, limit=10_000, per_path={})(scope, receive, send))
    assert received == 11  # ten chunks make the limit, the eleventh passes it
    assert sent[0]["status"] == 413  # in the app, its exception handler says why (above)


def test_uploads_have_their_own_larger_limit(pipeline: Pipeline) -> None:
    settings = pipeline.settings.model_copy(
        update={"max_body_bytes": 1000, "max_upload_request_bytes": 100_000}
    )
    article = "Tin mới ở Hà Giang\n\n" + "Ngày 5/5/2023 đoàn công tác đến bản Lũng Cú. " * 100
    with TestClient(create_app(settings, pipeline), client=LOOPBACK) as admin:
        response = admin.post(
            "/api/admin/uploads", files=[("files", ("ha-giang.txt", article.encode()))]
        )
        assert response.status_code == 200, response.text
        too_big = admin.post("/api/admin/uploads", files=[("files", ("big.txt", b"a" * 200_000))])
        assert "100.000 byte" in error(too_big, 413)


def test_the_feedback_form_caps_its_comment_like_the_api(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    form = {"message_id": answer["message_id"], "rating": "up", "comment": "x" * 2001}
    response = client.post("/feedback", data=form)
    assert response.status_code == 422 and "2000" in response.text
    api = client.post("/api/feedback", json=form)
    assert api.status_code == 422
    rated = client.get(f"/api/conversations/{answer['conversation_id']}").json()
    assert rated["turns"][0]["rating"] is None


# ----- text that is not Unicode -----

LONE = "\\ud800"  # as JSON spells it


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ask", f'{{"question": "Cao Bằng {LONE}"}}'),
        ("/api/ask", f'{{"question": "{QUESTION}", "conversation_id": "{LONE}"}}'),
        ("/api/ask/stream", f'{{"question": "{LONE}"}}'),
        ("/api/feedback", f'{{"message_id": "{LONE}", "rating": "up"}}'),
        ("/api/feedback", f'{{"message_id": "m", "rating": "up", "comment": "{LONE}"}}'),
        ("/v1/chat/completions", f'{{"messages": [{{"role": "user", "content": "{LONE}"}}]}}'),
        (
            "/v1/chat/completions",
            f'{{"messages": [{{"role": "user", "content": "a {LONE}"}},'
            f' {{"role": "assistant", "content": "b"}}, {{"role": "user", "content": "c"}}]}}',
        ),
        (
            "/v1/chat/completions",
            f'{{"messages": [{{"role": "user", "content": [{{"type": "text", "text": "{LONE}"}}]}}]}}',
        ),
    ],
)
def test_a_lone_surrogate_is_a_clear_422(client: TestClient, path: str, body: str) -> None:
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert "U+D800" in error(response, 422)


def test_a_lone_surrogate_in_a_new_title_is_a_422(client: TestClient) -> None:
    answer = client.post("/api/ask", json={"question": QUESTION}).json()
    response = client.patch(
        f"/api/conversations/{answer['conversation_id']}",
        content=f'{{"title": "{LONE}"}}',
        headers={"Content-Type": "application/json"},
    )
    assert "U+D800" in error(response, 422)


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xed\xa0\x80", b"\xc3"])
def test_bytes_that_are_not_utf8_are_a_clear_422(client: TestClient, raw: bytes) -> None:
    body = b'{"question": "Cao ' + raw + b'"}'
    response = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert error(response, 422)
    form = client.post(
        "/c",
        content=b"question=Cao+" + raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 422 and "UTF-8" in form.text


def test_percent_escapes_that_are_not_utf8_are_a_clear_422(client: TestClient) -> None:
    form = client.post(
        "/feedback",
        content=b"message_id=%ED%A0%80&rating=up",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 422 and "UTF-8" in form.text


# ----- conversation ids are checked before answering -----


@pytest.mark.parametrize("conversation_id", ["", "no-such-conversation"])
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_a_bad_conversation_id_fails_before_any_answer(
    client: TestClient,
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    conversation_id: str,
) -> None:
    answered: list[str] = []
    real_ask, real_stream = pipeline.ask, pipeline.ask_stream
    monkeypatch.setattr(pipeline, "ask", lambda *a, **k: answered.append("ask") or real_ask(*a))
    monkeypatch.setattr(
        pipeline, "ask_stream", lambda *a, **k: answered.append("stream") or real_stream(*a)
    )
    body = {"question": QUESTION, "conversation_id": conversation_id}
    response = client.post(path, json=body)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/json"  # not an event stream
    assert "delta" not in response.text
    assert answered == []


def test_another_owners_conversation_fails_before_any_answer(
    app: FastAPI, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(app) as lan, TestClient(app) as minh:
        theirs = lan.post("/api/ask", json={"question": QUESTION}).json()["conversation_id"]
        monkeypatch.setattr(pipeline, "ask_stream", lambda *a, **k: pytest.fail("answered"))
        body = {"question": QUESTION, "conversation_id": theirs}
        assert minh.post("/api/ask/stream", json=body).status_code == 404


# ----- a damaged index swapped in under a running server -----


def test_a_truncated_keyword_index_is_a_503(client: TestClient, pipeline: Pipeline) -> None:
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    link = pipeline.settings.index_dir
    damaged = link.resolve().with_name("damaged")
    shutil.copytree(link.resolve(), damaged)
    part = damaged / "bm25_accented_norm.npy"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    staged = link.with_name("staged")
    staged.symlink_to(damaged)
    os.replace(staged, link)
    for response in (
        client.post("/api/ask", json={"question": QUESTION}),
        client.get("/api/search", params={"q": QUESTION}),
        client.get("/healthz"),
    ):
        assert "qa index" in error(response, 503)
    page = client.get("/articles")
    assert page.status_code == 503 and "qa index" in page.text
