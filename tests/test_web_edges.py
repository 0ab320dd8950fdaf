"""The server's edges: allowed hosts, same-origin writes (CSRF), the body limit, bad text."""

from __future__ import annotations

import asyncio
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
