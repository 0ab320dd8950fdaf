"""Articles managed in the page: upload, list, delete, re-index in the background."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from embeddings.hashing import HashEmbedder
from qa.pipeline import Pipeline
from tests.conftest import CORPUS, make_settings
from web.app import create_app

LOOPBACK = ("127.0.0.1", 50000)
NEW_ARTICLE = (
    "Hà Giang đón đoàn công tác về đồng bào Lô Lô\n"
    "Ngày 5/5/2023, đoàn công tác đã đến thăm bản Lũng Cú của đồng bào Lô Lô.\n"
    "Bản Lũng Cú có 186 hộ đồng bào Lô Lô, giữ gìn nghề dệt thổ cẩm truyền thống.\n"
)
QUESTION = "Bản Lũng Cú có bao nhiêu hộ đồng bào Lô Lô?"


def upload(client: TestClient, *files: tuple[str, bytes]) -> list[dict[str, object]]:
    response = client.post(
        "/api/admin/uploads", files=[("files", (name, data)) for name, data in files]
    )
    assert response.status_code == 200, response.text
    return response.json()


def reindex(client: TestClient, app: FastAPI) -> dict[str, object]:
    started = client.post("/api/admin/reindex")
    assert started.status_code == 202, started.text
    app.state.reindexer.join(30)
    return client.get("/api/admin/reindex").json()


def cited_articles(client: TestClient, question: str = QUESTION) -> set[str]:
    answer = client.post("/api/ask", json={"question": question}).json()
    return {c["article_id"] for c in answer["citations"]}


@pytest.fixture
def app(pipeline: Pipeline) -> FastAPI:
    return create_app(pipeline.settings, pipeline)


@pytest.fixture
def admin(app: FastAPI) -> Iterator[TestClient]:
    """The local user on loopback: an admin when HOIDAP_AUTH=none."""
    with TestClient(app, client=LOOPBACK) as client:
        yield client


def test_upload_reindex_then_ask_gives_a_cited_answer(admin: TestClient, app: FastAPI) -> None:
    assert "lung-cu" not in cited_articles(admin)
    [result] = upload(admin, ("lung-cu.txt", NEW_ARTICLE.encode()))
    assert result["accepted"] and result["articles"] == ["lung-cu"]
    job = reindex(admin, app)
    assert (job["state"], job["percent"]) == ("done", 100), job
    assert "1 bài mới" in job["message"]
    answer = admin.post("/api/ask", json={"question": QUESTION}).json()
    assert not answer["refused"]
    cited = [c for c in answer["citations"] if c["article_id"] == "lung-cu"]
    assert cited and "186 hộ" in " ".join(c["quote"] for c in cited)
    text = admin.get("/api/articles/lung-cu").json()["text"]
    assert all(text[c["start"] : c["end"]] == c["quote"] for c in cited)


def test_uploads_live_in_the_data_dir_and_are_listed(admin: TestClient, pipeline: Pipeline) -> None:
    bundled = sorted(p.name for p in CORPUS.iterdir())
    upload(admin, ("lung-cu.txt", NEW_ARTICLE.encode()))
    assert (pipeline.settings.uploads_dir / "lung-cu.txt").read_text("utf-8") == NEW_ARTICLE
    assert sorted(p.name for p in CORPUS.iterdir()) == bundled
    listed = admin.get("/api/admin/uploads").json()
    assert [(f["name"], f["size"]) for f in listed] == [("lung-cu.txt", len(NEW_ARTICLE.encode()))]
    page = admin.get("/admin/articles").text
    assert "lung-cu.txt" in page and "Xoá lung-cu.txt" in page


def test_each_rejected_file_gets_its_own_message(admin: TestClient, pipeline: Pipeline) -> None:
    bundled_id = sorted(CORPUS.iterdir())[0].stem
    too_big = b"x" * (pipeline.settings.max_upload_bytes + 1)
    results = upload(
        admin,
        ("ok.md", b"# Tieu de\n\nMot bai viet ngan.\n"),
        ("photo.png", b"\x89PNG...."),
        ("latin1.txt", "Hà Giang".encode("latin-1", "replace")),
        ("empty.txt", b"  \n"),
        ("binary.txt", b"abc\x00def"),
        ("broken.jsonl", b'{"id": "a", "text": "x"}\n{not json}\n'),
        ("huge.txt", too_big),
        (f"{bundled_id}.txt", b"Mot bai trung ma voi kho co san.\nNoi dung."),
        ("noname", b"text"),
    )
    by_file = {r["filename"]: r for r in results}
    assert by_file["ok.md"]["accepted"]
    expected = {
        "photo.png": "chỉ nhận tệp",
        "latin1.txt": "không phải văn bản UTF-8",
        "empty.txt": "tệp rỗng",
        "binary.txt": "byte NUL",
        "broken.jsonl": "broken.jsonl:2: dòng JSON hỏng",
        "huge.txt": "tệp quá lớn",
        f"{bundled_id}.txt": "trùng mã bài viết",
        "noname": "chỉ nhận tệp",
    }
    for name, message in expected.items():
        assert not by_file[name]["accepted"], name
        assert message in by_file[name]["message"], by_file[name]
        assert str(pipeline.settings.data_dir) not in by_file[name]["message"]
    # refused by its type before it has a name to be kept under: no name to delete it by
    assert by_file["noname"]["name"] is None and by_file["huge.txt"]["name"] == "huge.txt"
    assert [f["name"] for f in admin.get("/api/admin/uploads").json()] == ["ok.md"]


def test_html_is_cleaned_as_the_loader_does(admin: TestClient, app: FastAPI) -> None:
    html = (
        "<html><head><title>t</title><script>alert(1)</script></head><body><nav>menu</nav>"
        "<h1>Lũng Cú</h1><p>Bản Lũng Cú có 186 hộ đồng bào Lô Lô.</p></body></html>"
    )
    [result] = upload(admin, ("trang.html", html.encode()))
    assert result["accepted"], result
    reindex(admin, app)
    article = admin.get("/api/articles/trang").json()
    assert article["title"] == "Lũng Cú"
    assert "alert" not in article["text"] and "menu" not in article["text"]


def test_stored_names_lose_folders_and_diacritics(admin: TestClient, pipeline: Pipeline) -> None:
    [result] = upload(admin, ("C:\\tài liệu\\Bản Lũng Cú.TXT", NEW_ARTICLE.encode()))
    assert (result["name"], result["articles"]) == ("ban-lung-cu.txt", ["ban-lung-cu"])
    assert (pipeline.settings.uploads_dir / "ban-lung-cu.txt").is_file()


def test_replacing_an_upload_keeps_its_name(admin: TestClient, pipeline: Pipeline) -> None:
    upload(admin, ("lung-cu.txt", b"Ban dau.\nNoi dung cu."))
    [again] = upload(admin, ("lung-cu.txt", NEW_ARTICLE.encode()))
    assert again["accepted"]
    assert (pipeline.settings.uploads_dir / "lung-cu.txt").read_text("utf-8") == NEW_ARTICLE


def test_delete_then_reindex_removes_the_article(admin: TestClient, app: FastAPI) -> None:
    upload(admin, ("lung-cu.txt", NEW_ARTICLE.encode()))
    reindex(admin, app)
    assert admin.delete("/api/admin/uploads/lung-cu.txt").status_code == 204
    assert admin.delete("/api/admin/uploads/lung-cu.txt").status_code == 404
    assert admin.delete("/api/admin/uploads/..%2Fhoidap.sqlite3").status_code == 404
    job = reindex(admin, app)
    assert "1 bài bỏ" in job["message"]
    assert admin.get("/api/articles/lung-cu").status_code == 404


def test_the_page_forms_work_without_javascript(admin: TestClient, app: FastAPI) -> None:
    page = admin.post("/admin/articles", files=[("files", ("lung-cu.txt", NEW_ARTICLE.encode()))])
    assert page.status_code == 200 and "lung-cu.txt: đã nhận" in page.text
    rejected = admin.post("/admin/articles", files=[("files", ("a.exe", b"MZ"))])
    assert rejected.status_code == 422 and "chỉ nhận tệp" in rejected.text
    started = admin.post("/admin/reindex", follow_redirects=False)
    assert started.status_code == 303
    app.state.reindexer.join(30)
    assert 'value="100"' in admin.get("/admin/articles").text
    deleted = admin.post("/admin/articles/delete", data={"name": "lung-cu.txt"})
    assert deleted.status_code == 200 and "Chưa có tệp nào" in deleted.text


def test_only_the_local_user_on_loopback_is_admin(app: FastAPI) -> None:
    with TestClient(app) as remote:  # TestClient's own client address is not loopback
        assert remote.get("/admin/articles").status_code == 403
        assert (
            remote.post("/api/admin/uploads", files=[("files", ("a.txt", b"x"))]).status_code == 403
        )
        assert "Quản lý bài viết" not in remote.get("/").text


def test_a_failed_reindex_says_why_and_keeps_the_index(admin: TestClient, app: FastAPI) -> None:
    upload(admin, ("lung-cu.txt", NEW_ARTICLE.encode()))
    (app.state.settings.uploads_dir / "lung-cu.txt").write_bytes(b"\xff\xfe broken")
    job = reindex(admin, app)
    assert job["state"] == "failed" and "không phải văn bản UTF-8" in job["message"]
    assert (
        admin.post("/api/ask", json={"question": "Cao Bằng có bao nhiêu huyện?"}).status_code == 200
    )


class GatedEmbedder(HashEmbedder):
    """Embeds passages only once ``gate`` is open, so a test can look at a build in progress."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        assert self.gate.wait(30)
        return super().embed_passages(texts)


def test_the_chat_answers_from_the_old_index_while_building(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    gate = threading.Event()
    gated = Pipeline(make_settings(pipeline.settings.data_dir), embedder=GatedEmbedder(gate))
    app = create_app(gated.settings, gated)
    with TestClient(app, client=LOOPBACK) as admin:
        upload(admin, ("lung-cu.txt", NEW_ARTICLE.encode()))
        admin.post("/api/admin/reindex")
        running = admin.get("/api/admin/reindex").json()
        assert running["state"] == "running" and running["percent"] < 100
        assert admin.get("/healthz").json()["article_count"] == 5
        answer = admin.post("/api/ask", json={"question": QUESTION})
        assert answer.status_code == 200
        assert "lung-cu" not in {c["article_id"] for c in answer.json()["citations"]}
        gate.set()
        app.state.reindexer.join(30)
        assert admin.get("/healthz").json()["article_count"] == 6
        assert "lung-cu" in cited_articles(admin)


def test_qa_index_reads_the_uploads_too(pipeline: Pipeline) -> None:
    uploads = pipeline.settings.uploads_dir
    uploads.mkdir()
    (uploads / "rows.jsonl").write_text(
        json.dumps({"id": "row-1", "title": "Một", "text": "Nội dung một."}) + "\n", "utf-8"
    )
    report = pipeline.index()
    assert report.added == ["row-1"] and "row-1" in pipeline.data.articles
