from pathlib import Path

import pytest

from qa.ingest.cleaning import clean_text
from qa.ingest.loading import load_articles
from tests.conftest import CORPUS

RAW = """Tiêu đề bài viết
03:17 PM 10/09/2022 | Lượt xem: 2500 In bài viết |Trong hai ngày 9 - 10/9, hội nghị diễn ra.
Description: C:\\Users\\ADMIN\\Documents\\IMG_2520.JPG
Đoạn thứ hai của bài.
(baodantoc.vn)
Tin khác
1 2 3 4 5  ...
Thống kê truy cập
  • Đang online: 1
"""


def test_furniture_is_stripped_and_metadata_extracted() -> None:
    cleaned = clean_text(RAW)
    assert cleaned.title == "Tiêu đề bài viết"
    assert cleaned.date == "2022-09-10"
    assert cleaned.source == "baodantoc.vn"
    assert cleaned.text == "Trong hai ngày 9 - 10/9, hội nghị diễn ra.\nĐoạn thứ hai của bài."


def test_bundled_articles_are_clean_and_keep_their_text() -> None:
    articles = {a.id: a for a in load_articles([CORPUS])}
    assert len(articles) == 5
    for article in articles.values():
        for furniture in (
            "Lượt xem",
            "In bài viết",
            "Description:",
            "Thống kê truy cập",
            "Tin khác",
        ):
            assert furniture not in article.text, (article.id, furniture)
        assert article.text == article.text.strip()
    # the article without a title line gets one from its first words
    assert articles["002_c67acd26c6cd2a5a"].title.startswith("Báo cáo tại Hội nghị")
    assert articles["000_9a3428ac41f124c4"].date == "2022-09-10"
    assert articles["004_eb0597a851750997"].date == "2017-04-10"
    # article text right after the furniture survives
    assert articles["000_9a3428ac41f124c4"].text.startswith("Trong hai ngày 9 - 10/9")
    assert "tỷ lệ người DTTS chiếm 94,88%" in articles["000_9a3428ac41f124c4"].text


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.md", "# Tiêu đề\n\nNội dung bài viết markdown."),
        (
            "b.html",
            "<html><head><title>T</title><script>alert(1)</script></head>"
            "<body><h1>Tiêu đề HTML</h1><p>Nội dung &amp; chi tiết.</p></body></html>",
        ),
        ("c.jsonl", '{"id": "x-1", "title": "Tiêu đề", "text": "Nội dung dòng một."}\n'),
    ],
)
def test_each_format_loads(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    [article] = load_articles([tmp_path])
    assert article.title.startswith("Tiêu đề")
    assert "Nội dung" in article.text
    assert "alert" not in article.text
