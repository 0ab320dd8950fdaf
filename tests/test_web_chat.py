"""The chat's own features through the HTTP API and pages: the conversation list (dates, full
titles, rename, delete, search), starter questions, article search, the API docs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embeddings.hashing import HashEmbedder
from qa.pipeline import Pipeline
from qa.text.starters import starter_questions
from tests.conftest import make_settings
from web.app import create_app
from web.dates import when

QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"
LONG = (
    "Trong giai đoạn 2016 – 2020, " + "các chương trình hỗ trợ đồng bào ở Cao Bằng " * 3 + "ra sao?"
)


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline.settings, pipeline)) as client:
        yield client


def ask(client: TestClient, question: str = QUESTION) -> dict[str, Any]:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


# ----- the conversation list -----


def test_sidebar_shows_the_full_title_on_hover_and_the_date(client: TestClient) -> None:
    answer = ask(client, LONG)
    title = " ".join(LONG.split())
    [listed] = client.get("/api/conversations").json()
    assert listed["title"] == title  # the whole question, not cut with "…"
    page = client.get("/").text
    assert f'title="{title}"' in page
    assert f'<span class="conversation-title">{title}</span>' in page
    assert f">{when(listed['updated_at'])}</time>" in page
    assert when(listed["updated_at"]).startswith("hôm nay ")
    assert f'data-id="{answer["conversation_id"]}"' in page


def test_dates_name_today_and_yesterday_and_give_older_days() -> None:
    now = datetime(2026, 12, 2, 15, 0)
    assert when(datetime(2026, 12, 2, 9, 5).timestamp(), now) == "hôm nay 09:05"
    assert when(datetime(2026, 12, 1, 23, 59).timestamp(), now) == "hôm qua 23:59"
    assert when(datetime(2025, 7, 4, 8, 0).timestamp(), now) == "04/07/2025"


def test_rename_keeps_the_new_title(client: TestClient) -> None:
    conversation_id = ask(client)["conversation_id"]
    response = client.patch(
        f"/api/conversations/{conversation_id}", json={"title": "  Dân tộc   Cao Bằng "}
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Dân tộc Cao Bằng"
    assert client.get(f"/api/conversations/{conversation_id}").json()["title"] == "Dân tộc Cao Bằng"
    assert 'title="Dân tộc Cao Bằng"' in client.get("/").text


@pytest.mark.parametrize(
    ("title", "message"),
    [("   ", "Tên cuộc trò chuyện trống"), ("x" * 201, "title"), ("", "title")],
)
def test_rename_refuses_an_empty_or_long_title(
    client: TestClient, title: str, message: str
) -> None:
    conversation_id = ask(client)["conversation_id"]
    response = client.patch(f"/api/conversations/{conversation_id}", json={"title": title})
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert client.get(f"/api/conversations/{conversation_id}").json()["title"] == QUESTION


def test_delete_removes_the_conversation_and_its_turns(
    client: TestClient, pipeline: Pipeline
) -> None:
    kept = ask(client, "Cao Bằng có bao nhiêu dân tộc?")["conversation_id"]
    gone = ask(client)
    assert client.delete(f"/api/conversations/{gone['conversation_id']}").status_code == 204
    assert [c["id"] for c in client.get("/api/conversations").json()] == [kept]
    assert client.get(f"/api/conversations/{gone['conversation_id']}").status_code == 404
    assert client.get(f"/c/{gone['conversation_id']}").status_code == 404
    rated = client.post("/api/feedback", json={"message_id": gone["message_id"], "rating": "up"})
    assert rated.status_code == 404  # the turn went with it
    again = client.delete(f"/api/conversations/{gone['conversation_id']}")
    assert again.status_code == 404
    assert "Không có cuộc trò chuyện" in again.json()["error"]["message"]


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_unknown_conversation_is_404(client: TestClient, method: str) -> None:
    kwargs = {"json": {"title": "Tên"}} if method == "patch" else {}
    response = client.request(method.upper(), "/api/conversations/khong-co", **kwargs)
    assert response.status_code == 404
    assert "khong-co" in response.json()["error"]["message"]


def test_search_finds_titles_and_questions_without_diacritics(client: TestClient) -> None:
    first = ask(client)["conversation_id"]
    second = ask(client, "Hội nghị ở Quảng Nam diễn ra khi nào?")["conversation_id"]
    client.post(
        "/api/ask/stream", json={"question": "Còn ở Bắc Kạn thì sao?", "conversation_id": first}
    )
    client.patch(f"/api/conversations/{second}", json={"title": "Hội nghị phối hợp"})

    def found(q: str) -> list[str]:
        response = client.get("/api/conversations", params={"q": q})
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    assert found("bac kan") == [first]  # a follow-up question, without diacritics
    assert found("PHỐI HỢP") == [second]  # the new title, upper case
    assert found("quang nam") == [second]  # the question still finds the renamed one
    assert found("Hà Giang") == []
    assert set(found("  ")) == {first, second}
    page = client.get("/", params={"q": "bac kan"}).text
    assert f'data-id="{first}"' in page and f'data-id="{second}"' not in page
    assert 'value="bac kan"' in page
    empty = client.get("/", params={"q": "Hà Giang"}).text
    assert "Không có cuộc trò chuyện nào khớp." in empty
    assert client.get("/api/conversations", params={"q": "x" * 201}).status_code == 422


# ----- starter questions -----


def test_empty_chat_offers_questions_from_the_loaded_articles(
    client: TestClient, pipeline: Pipeline
) -> None:
    starters = starter_questions(pipeline.articles())
    assert starters
    page = client.get("/").text
    for question in starters:
        assert f'name="starter" value="{question}"' in page
    # a conversation's page has turns instead
    conversation_id = ask(client)["conversation_id"]
    assert 'name="starter"' not in client.get(f"/c/{conversation_id}").text


def test_a_starter_question_is_asked_without_javascript(
    client: TestClient, pipeline: Pipeline
) -> None:
    starter = starter_questions(pipeline.articles())[0]
    response = client.post(
        "/c",
        data={"conversation_id": "", "starter": starter, "question": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    [listed] = client.get("/api/conversations").json()
    assert listed["title"] == starter


def test_no_starters_and_no_error_without_an_index(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "empty"))) as client:
        page = client.get("/")
    assert page.status_code == 200
    assert 'name="starter"' not in page.text


def test_starters_follow_the_corpus_that_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "bien.md").write_text(
        "# Mùa cá ở Phú Yên\n\nNăm nay ngư dân xã An Chấn đánh bắt được 320 tấn cá ngừ đại"
        " dương. Giá cá tăng mạnh so với năm trước.\n",
        encoding="utf-8",
    )
    (folder / "lua.md").write_text(
        "# Hội thi nấu ăn ở Đồng Tháp\n\nHội thi thu hút đông đảo người dân tham gia.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path / "data", articles=[folder])
    pipeline = Pipeline(settings, embedder=HashEmbedder())
    pipeline.index()
    with TestClient(create_app(settings, pipeline)) as client:
        page = client.get("/").text
    assert "Năm nay ngư dân xã An Chấn đánh bắt được bao nhiêu tấn?" in page
    assert "Hội thi nấu ăn ở Đồng Tháp diễn ra khi nào?" in page
    assert "Cao Bằng" not in page


# ----- the article browser's search -----


def test_article_search_finds_title_and_text_without_diacritics(
    client: TestClient, pipeline: Pipeline
) -> None:
    def found(q: str) -> list[str]:
        response = client.get("/api/articles", params={"q": q})
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()]

    in_title = [a.id for a in pipeline.articles() if "Trà Vinh" in a.title]
    in_text = [a.id for a in pipeline.articles() if "Trà Vinh" in a.text and a.id not in in_title]
    assert in_title
    assert found("tra vinh") == in_title + in_text  # the title ones first
    assert set(found("TRÙNG khánh")) == {
        a.id for a in pipeline.articles() if "Trùng Khánh" in a.text
    }
    assert found("Trùng Khán") == []  # whole words only
    assert found("Trùng Khánh Hà Giang") == []
    assert len(found("")) == len(pipeline.articles())
    assert client.get("/api/articles", params={"q": "x" * 201}).status_code == 422


def test_article_page_search_shows_the_match_in_its_text(client: TestClient) -> None:
    page = client.get("/articles", params={"q": "trung khanh"}).text
    assert "<mark>Trùng Khánh</mark>" in page
    assert 'value="trung khanh"' in page
    assert "bài có “trung khanh”" in page
    none = client.get("/articles", params={"q": "xyzzy"}).text
    assert "0 bài có “xyzzy”" in none and 'class="article-title"' not in none


# ----- the API docs -----


def test_docs_render_markdown_and_link_the_try_it_page(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "`delta`" not in page and "<code>delta</code>" in page  # the stream's description
    assert "<code>up</code>" in page  # the feedback endpoint's
    assert 'href="/docs/try"' in page


def test_markdown_in_descriptions_cannot_inject_html(client: TestClient) -> None:
    client.app.openapi()["info"]["description"] = "<script>alert(1)</script> **đậm**"  # type: ignore[attr-defined]
    page = client.get("/docs").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page and "<strong>đậm</strong>" in page


def test_try_it_page_serves_swagger_ui_from_this_server(client: TestClient) -> None:
    page = client.get("/docs/try")
    assert page.status_code == 200
    assert not re.search(r"""(src|href)=["']https?://""", page.text)
    assets = re.findall(r"""(?:src|href)="(/docs/assets/[^"]+)""", page.text)
    assert sorted(assets) == ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]
    for asset in [*assets, "/static/try-api.js"]:
        assert client.get(asset).status_code == 200, asset
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text


@pytest.mark.parametrize(("answerer", "streams"), [("extractive", False), ("llm", True)])
def test_only_a_writing_answerer_is_shown_as_streaming(
    tmp_path: Path, answerer: str, streams: bool
) -> None:
    with TestClient(create_app(make_settings(tmp_path, answerer=answerer))) as client:
        page = client.get("/").text
    assert ('data-streams="true"' in page) is streams
