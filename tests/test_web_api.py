"""The HTTP API and pages through FastAPI's TestClient, over the bundled corpus."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.core.errors import BackendError
from qa.core.settings import Settings
from qa.core.types import Answer, Article, Turn
from qa.pipeline import Pipeline
from tests.contracts import assert_exact_quotes
from web.app import WEB_DIR, create_app
from web.conversations import ConversationStore

QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"
FOLLOW_UP = "Còn ở Bắc Kạn thì sao?"


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline.settings, pipeline)) as client:
        yield client


@pytest.fixture
def histories(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Turn]]:
    """The history the pipeline was given with each question (by ``ask`` or ``ask_stream``)."""
    seen: dict[str, list[Turn]] = {}
    ask, ask_stream = pipeline.ask, pipeline.ask_stream

    def recording_ask(
        question: str, history: Sequence[Turn] = (), exclude: object = (), answerer: object = None
    ) -> Answer:
        seen[question] = list(history)
        return ask(question, history)

    def recording_stream(
        question: str, history: Sequence[Turn] = (), exclude: object = (), answerer: object = None
    ) -> Iterator[str | Answer]:
        seen[question] = list(history)
        return ask_stream(question, history)

    monkeypatch.setattr(pipeline, "ask", recording_ask)
    monkeypatch.setattr(pipeline, "ask_stream", recording_stream)
    return seen


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event name, data) pairs of a text/event-stream body."""
    events = []
    for block in body.strip().split("\n\n"):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        events.append((name, "\n".join(data)))
    return events


def ask(client: TestClient, question: str = QUESTION, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


# ----- asking -----


def test_ask_cites_the_exact_characters(client: TestClient) -> None:
    answer = ask(client)
    assert not answer["refused"]
    assert "94,88%" in answer["text"]
    assert answer["citations"] and answer["sentences"]
    assert answer["conversation_id"] and answer["message_id"]
    assert answer["timings"]["total"] >= 0
    for citation in answer["citations"]:
        assert f"[{citation['number']}]" in answer["text"]
        article = client.get(f"/api/articles/{citation['article_id']}").json()
        assert_exact_quotes(
            {article["id"]: Article(article["id"], "", article["text"])}, [citation]
        )
        assert citation["url"].endswith(f"?start={citation['start']}&end={citation['end']}")


def test_ask_stream_sends_deltas_then_the_answer(client: TestClient) -> None:
    response = client.post("/api/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"}
    streamed = "".join(json.loads(data)["text"] for _, data in events[:-1])
    answer = json.loads(events[-1][1])
    assert streamed == answer["text"]
    # the answer says the part of the cited sentence that answers; the quote is the sentence
    claim = answer["sentences"][0]["text"].lower()
    assert claim in answer["citations"][0]["quote"].lower()
    assert answer["conversation_id"] in client.get("/api/conversations").text


def test_follow_up_question_gets_the_conversation_as_history(
    client: TestClient, histories: dict[str, list[Turn]]
) -> None:
    first = ask(client)
    response = client.post(
        "/api/ask/stream", json={"question": FOLLOW_UP, "conversation_id": first["conversation_id"]}
    )
    follow_up = json.loads(sse_events(response.text)[-1][1])
    assert histories == {QUESTION: [], FOLLOW_UP: [Turn(QUESTION, first["text"])]}
    assert follow_up["conversation_id"] == first["conversation_id"]
    turns = client.get(f"/api/conversations/{first['conversation_id']}").json()["turns"]
    assert [t["question"] for t in turns] == [QUESTION, FOLLOW_UP]


def test_conversation_page_shows_past_turns(client: TestClient) -> None:
    answer = ask(client)
    page = client.get(f"/c/{answer['conversation_id']}")
    assert page.status_code == 200
    assert QUESTION in page.text
    assert f'id="m-{answer["message_id"]}"' in page.text
    quote = answer["citations"][0]["quote"]
    assert f'<blockquote class="quote">{quote}</blockquote>' in page.text
    listed = client.get("/api/conversations").json()
    assert [c["title"] for c in listed] == [QUESTION]
    assert client.get("/").text.count('class="history-list"') == 1


def test_ask_form_works_without_javascript(client: TestClient) -> None:
    response = client.post("/c", data={"question": QUESTION}, follow_redirects=False)
    assert response.status_code == 303
    conversation = client.get(response.headers["location"].split("#")[0])
    assert conversation.status_code == 200 and "94,88%" in conversation.text


def test_refusal_shows_the_closest_passages(
    client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = pipeline.search(QUESTION, 3)
    refusal = Answer(QUESTION, "Không tìm thấy thông tin này.", [], [], refused=True, hits=hits)
    monkeypatch.setattr(pipeline, "ask", lambda question, history=(): refusal)
    answer = ask(client)
    assert answer["refused"] and not answer["citations"]
    assert [p["text"] for p in answer["passages"]] == [h.chunk.text for h in hits]
    page = client.get(f"/c/{answer['conversation_id']}").text
    assert "bubble answer refused" in page
    assert "Các đoạn gần nhất" in page
    assert answer["passages"][0]["url"].replace("&", "&amp;") in page


# ----- search, articles, health, docs -----


def test_search_returns_scored_passages(client: TestClient, pipeline: Pipeline) -> None:
    body = client.get("/api/search", params={"q": "Cao Bằng dân tộc thiểu số", "k": 3}).json()
    passages = body["passages"]
    assert [p["rank"] for p in passages] == [1, 2, 3]
    assert passages[0]["score"] >= passages[-1]["score"]
    for passage in passages:
        text = pipeline.article(passage["article_id"]).text
        assert text[passage["start"] : passage["end"]] == passage["text"]
        assert passage["scores"]


def test_articles_list_and_detail(client: TestClient, pipeline: Pipeline) -> None:
    listed = client.get("/api/articles").json()
    assert len(listed) == len(pipeline.articles()) == 5
    assert {"id", "title", "date", "source", "url"} <= listed[0].keys()
    detail = client.get(f"/api/articles/{listed[0]['id']}").json()
    assert detail["text"] == pipeline.article(listed[0]["id"]).text
    page = client.get("/articles")
    assert page.status_code == 200 and listed[0]["title"] in page.text


def test_article_page_highlights_the_span(client: TestClient, pipeline: Pipeline) -> None:
    article = pipeline.articles()[0]
    page = client.get(f"/articles/{article.id}", params={"start": 10, "end": 60})
    assert page.status_code == 200
    assert f'<mark id="cited" tabindex="-1">{article.text[10:60]}</mark>' in page.text


@pytest.mark.parametrize(
    "span", [{"start": 50, "end": 10}, {"start": 0, "end": 10**7}, {"start": 5}]
)
def test_article_page_rejects_a_bad_span(
    client: TestClient, pipeline: Pipeline, span: dict[str, int]
) -> None:
    page = client.get(f"/articles/{pipeline.articles()[0].id}", params=span)
    assert page.status_code == 422
    assert "Đoạn cần tô sáng không hợp lệ" in page.text


def test_healthz_reports_the_index(client: TestClient, pipeline: Pipeline) -> None:
    body = client.get("/healthz").json()
    manifest = pipeline.data.manifest
    assert body["status"] == "ok" and body["index_loaded"] is True
    assert body["model"] == manifest.model == "hash:64"
    assert (body["article_count"], body["chunk_count"]) == (5, manifest.chunk_count)


def test_docs_are_served_offline(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in [
        "/api/ask",
        "/api/ask/stream",
        "/api/search",
        "/api/articles",
        "/api/articles/{article_id}",
        "/api/feedback",
        "/healthz",
        "/v1/chat/completions",
    ]:
        assert path in spec["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/v1/chat/completions" in docs.text
    assert not re.search(r"""(src|href)=["']https?://""", docs.text)


# ----- feedback -----


def test_feedback_is_stored_and_replaced(client: TestClient) -> None:
    answer = ask(client)
    sent = {"message_id": answer["message_id"], "rating": "up", "comment": " Rất rõ ràng "}
    response = client.post("/api/feedback", json=sent)
    assert response.status_code == 200
    assert response.json()["comment"] == "Rất rõ ràng"
    # rating again replaces the earlier feedback
    client.post("/api/feedback", json={"message_id": answer["message_id"], "rating": "down"})
    [turn] = client.get(f"/api/conversations/{answer['conversation_id']}").json()["turns"]
    assert (turn["rating"], turn["comment"]) == ("down", "")
    page = client.get(f"/c/{answer['conversation_id']}").text
    assert 'value="down" aria-pressed="true"' in page


def test_feedback_form_works_without_javascript(client: TestClient) -> None:
    answer = ask(client)
    form = {"message_id": answer["message_id"], "rating": "up", "comment": "ok"}
    response = client.post("/feedback", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"#m-{answer['message_id']}")
    turn = client.get(f"/api/conversations/{answer['conversation_id']}").json()["turns"][0]
    assert (turn["rating"], turn["comment"]) == ("up", "ok")


@pytest.mark.parametrize(
    ("body", "status"),
    [({"message_id": "nope", "rating": "up"}, 404), ({"message_id": "x", "rating": "meh"}, 422)],
)
def test_bad_feedback_is_refused(client: TestClient, body: dict[str, str], status: int) -> None:
    response = client.post("/api/feedback", json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"]


# ----- OpenAI-compatible endpoint -----


def test_chat_completions(client: TestClient, histories: dict[str, list[Turn]]) -> None:
    messages = [
        {"role": "system", "content": "Bạn là trợ lý."},
        {"role": "user", "content": "Hội nghị diễn ra ở đâu?"},
        {"role": "assistant", "content": "Ở Trùng Khánh [1]\n\nNguồn:\n[1] Hội nghị…"},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]
    response = client.post(
        "/v1/chat/completions", json={"model": "hoidap", "messages": messages, "temperature": 0}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    answer, sources = content.split("\n\nNguồn:\n")
    assert "94,88%" in answer and "[1]" in answer
    citation = body["citations"][0]
    assert sources.startswith(f"[1] {citation['title']}")
    assert citation["quote"] in sources
    assert histories == {QUESTION: [Turn("Hội nghị diễn ra ở đâu?", "Ở Trùng Khánh [1]")]}


def test_chat_completions_stream(client: TestClient) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.post("/v1/chat/completions", json={"messages": messages}).json()
    response = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [data for _, data in sse_events(response.text)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert content == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"] == whole["citations"]


# ----- errors -----


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream", "/v1/chat/completions"])
def test_empty_or_oversized_question_is_422(client: TestClient, path: str, question: str) -> None:
    if path.startswith("/v1"):
        body: dict[str, Any] = {"messages": [{"role": "user", "content": question}]}
    else:
        body = {"question": question}
    response = client.post(path, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "input_error"
    assert "Câu hỏi trống" in error["message"] or "Câu hỏi quá dài" in error["message"]


def test_empty_question_in_the_page_gets_a_clear_message(client: TestClient) -> None:
    page = client.post("/c", data={"question": " "})
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert "Câu hỏi trống. Hãy nhập một câu hỏi." in page.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/articles/khong-co", None),
        ("GET", "/api/conversations/khong-co", None),
        ("POST", "/api/ask", {"question": QUESTION, "conversation_id": "khong-co"}),
        ("POST", "/api/ask/stream", {"question": QUESTION, "conversation_id": "khong-co"}),
        ("GET", "/api/khong-co", None),
    ],
)
def test_unknown_ids_are_404_json(
    client: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/articles/khong-co", "/c/khong-co", "/articles/..%2F..%2Fetc%2Fpasswd"]
)
def test_unknown_ids_are_404_pages(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "Không tìm thấy" in page.text and "Traceback" not in page.text


def test_missing_index_is_503(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    for response in [client.get("/healthz"), client.post("/api/ask", json={"question": QUESTION})]:
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "index_missing_error"
    assert client.get("/articles").status_code == 503
    assert client.get("/").status_code == 200


def test_last_message_must_be_the_users(client: TestClient) -> None:
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "..."}]
    response = client.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code == 422
    assert "role: user" in response.json()["error"]["message"]


def test_invalid_body_is_422_json(client: TestClient) -> None:
    response = client.post("/api/ask", json={"conversation_id": "x"})
    assert response.status_code == 422
    assert "question" in response.json()["error"]["message"]


def test_backend_error_is_502(
    client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(question: str, history: Sequence[Turn] = ()) -> Answer:
        raise BackendError("Máy chủ LLM không trả lời.")

    monkeypatch.setattr(pipeline, "ask", failing)
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 502
    assert response.json()["error"]["message"] == "Máy chủ LLM không trả lời."


def test_unexpected_error_is_500_without_details(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(question: str, history: Sequence[Turn] = ()) -> Answer:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(pipeline, "ask", broken)
    client = TestClient(create_app(pipeline.settings, pipeline), raise_server_exceptions=False)
    response = client.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["error"]["type"] == "internal_error"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = client.post("/c", data={"question": QUESTION})
    assert page.status_code == 500 and "Đã xảy ra lỗi" in page.text


def test_error_midway_through_a_stream_is_an_error_event(
    client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(
        question: str, history: Sequence[Turn] = (), answerer: object = None
    ) -> Iterator[str | Answer]:
        yield "Theo bài viết"
        raise BackendError("Mất kết nối với máy chủ LLM.")

    monkeypatch.setattr(pipeline, "ask_stream", interrupted)
    response = client.post("/api/ask/stream", json={"question": QUESTION})
    assert response.status_code == 200
    (first, _), (name, data) = sse_events(response.text)
    assert (first, name) == ("delta", "error")
    assert json.loads(data)["error"] == {
        "message": "Mất kết nối với máy chủ LLM.",
        "type": "backend_error",
        "code": 502,
    }
    openai = client.post(
        "/v1/chat/completions",
        json={"stream": True, "messages": [{"role": "user", "content": QUESTION}]},
    )
    *_, error, done = sse_events(openai.text)
    assert json.loads(error[1])["error"]["code"] == 502 and done[1] == "[DONE]"


# ----- security -----


def test_html_in_a_question_is_shown_as_text(client: TestClient) -> None:
    question = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
    answer = ask(client, question)
    page = client.get(f"/c/{answer['conversation_id']}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in page


def test_html_in_an_article_is_shown_as_text(
    client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    article = Article(id="x", title="<b>Tiêu đề</b>", text="Trước <script>alert(1)</script> sau.")
    monkeypatch.setattr(pipeline, "article", lambda article_id: article)
    page = client.get("/articles/x", params={"start": 6, "end": 31}).text
    assert "<script>alert(1)" not in page and "<b>Tiêu đề" not in page
    assert '<mark id="cited" tabindex="-1">&lt;script&gt;alert(1)&lt;/script&gt;</mark>' in page


@pytest.mark.parametrize("path", ["/", "/articles", "/docs", "/healthz", "/static/app.js", "/nope"])
def test_every_response_has_a_strict_csp(client: TestClient, path: str) -> None:
    policy = client.get(path).headers["content-security-policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert script_src == "script-src 'self'"
    assert "unsafe-inline" not in policy


def test_templates_have_no_inline_script_or_style() -> None:
    for template in (WEB_DIR / "templates").glob("*.html"):
        text = template.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\s(on\w+|style)=", text), template.name
        assert "<style" not in text and "|safe" not in text.replace(" ", ""), template.name


def test_static_js_never_writes_html() -> None:
    script = (WEB_DIR / "static" / "app.js").read_text("utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)


# ----- the store under concurrent writers -----


def test_store_survives_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "hoidap.sqlite3"
    stores = [ConversationStore(path), ConversationStore(path)]  # like two server processes
    shared = stores[0].add_turn(None, "Câu hỏi đầu", "Trả lời", "{}", owner="a").conversation_id
    errors: list[BaseException] = []

    def write(store: ConversationStore, worker: int) -> None:
        try:
            for i in range(25):
                message = store.add_turn(shared, f"Câu {worker}-{i}", "Trả lời", "{}", owner="a")
                store.rate(message.id, "up" if i % 2 else "down", f"nhận xét {i}", owner="a")
                store.add_turn(None, f"Cuộc mới {worker}-{i}", "Trả lời", "{}", owner="a")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(stores[w % 2], w)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    messages = stores[1].messages(shared, owner="a")
    assert len(messages) == 1 + 8 * 25
    assert sum(m.rating is not None for m in messages) == 8 * 25
    assert len(stores[0].conversations(owner="a", limit=1000)) == 1 + 8 * 25
    for store in stores:
        store.close()


def test_store_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "hoidap.sqlite3"
    ConversationStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
