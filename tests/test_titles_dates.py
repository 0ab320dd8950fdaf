"""Generated titles and dates found in the text are flagged, and the pages say so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.ingest.cleaning import date_in_text
from qa.ingest.loading import load_articles, load_file
from qa.pipeline import Pipeline
from tests.conftest import CORPUS
from web.app import create_app

UNTITLED = "002_c67acd26c6cd2a5a"
TRA_VINH = "001_7009c7100f5f86cf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hội nghị diễn ra ngày 27/6/2022 tại Trà Vinh.", "2022-06-27"),
        ("Lúc 8 giờ, 27-06-2022, hội nghị khai mạc.", "2022-06-27"),
        (
            "Thực hiện Kế hoạch số 35 ngày 13 tháng 6 năm 2022, ngày 27 tháng 6 năm 2022 hội nghị "
            "được tổ chức.",
            "2022-06-27",
        ),
        ("Ngày 32/13/2022 không có thật.", ""),
        ("Không có ngày nào ở đây.", ""),
        ("Đoạn đầu không có ngày.\nĐoạn sau: 27/6/2022.", ""),
    ],
)
def test_date_in_text(text: str, expected: str) -> None:
    assert date_in_text(text) == expected


def test_bundled_articles_are_flagged() -> None:
    articles = {a.id: a for a in load_articles([CORPUS])}
    assert [i for i, a in articles.items() if a.title_generated] == [UNTITLED]
    assert articles[UNTITLED].title.startswith("Báo cáo tại Hội nghị")
    assert (articles[TRA_VINH].date, articles[TRA_VINH].date_in_text) == ("2022-06-27", True)
    header = articles["000_9a3428ac41f124c4"]
    assert (header.date, header.date_in_text) == ("2022-09-10", False)


def test_a_given_date_or_title_is_never_flagged(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"id": "a", "title": "Tiêu đề", "date": "2021-01-01", "text": "Ngày 5/5/2023."})
        + "\n"
        + json.dumps({"id": "b", "text": "Chỉ có nội dung, ngày 5/5/2023."})
        + "\n",
        "utf-8",
    )
    given, bare = load_file(rows)
    assert (given.date, given.date_in_text, given.title_generated) == ("2021-01-01", False, False)
    assert (bare.date, bare.date_in_text, bare.title_generated) == ("2023-05-05", True, True)


def test_pages_and_api_say_untitled_and_found_in_text(pipeline: Pipeline) -> None:
    with TestClient(create_app(pipeline.settings, pipeline)) as client:
        listed = {a["id"]: a for a in client.get("/api/articles").json()}
        assert listed[UNTITLED]["title_generated"] and not listed[TRA_VINH]["title_generated"]
        assert listed[TRA_VINH]["date_in_text"]
        page = client.get("/articles").text
        assert page.count("Không có tiêu đề") == 1
        assert '2022-06-27 <span class="label"' in page
        assert "Không có tiêu đề" in client.get(f"/articles/{UNTITLED}").text
        hits = client.get(
            "/api/search", params={"q": "ông Bế Văn Hùng Trưởng Ban Dân tộc báo cáo tại Hội nghị"}
        ).json()["passages"]
        assert any(p["title_generated"] for p in hits if p["article_id"] == UNTITLED)
