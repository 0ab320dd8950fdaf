"""People in headless Chromium: two browsers with their own histories; the admin's upload,
re-index and answer from the new article. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.test_web_browser import (  # the real server and Debian's Chromium
    ANSWER_TIMEOUT_MS,
    ARTIFACTS,
    QUESTION,
    ask,
    browser,  # noqa: F401
    server,  # noqa: F401
)

pytestmark = pytest.mark.browser

NEW_ARTICLE = (
    "Hà Giang đón đoàn công tác về đồng bào Lô Lô\n"
    "Ngày 5/5/2023, đoàn công tác đã đến thăm bản Lũng Cú của đồng bào Lô Lô.\n"
    "Bản Lũng Cú có 186 hộ đồng bào Lô Lô, giữ gìn nghề dệt thổ cẩm truyền thống.\n"
)


def test_two_browsers_do_not_see_each_others_history(server: str, browser: Browser) -> None:  # noqa: F811
    first = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    second = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    mine, theirs = first.new_page(), second.new_page()
    errors: list[str] = []
    for page in (mine, theirs):
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    mine.goto(server)
    ask(mine, QUESTION)
    my_url = mine.url
    theirs.goto(server)
    expect(theirs.locator("#history-list")).to_have_text("Chưa có cuộc trò chuyện nào.")
    ask(theirs, "Cao Bằng có bao nhiêu huyện biên giới?")
    expect(theirs.locator("#history-list li")).to_have_count(1)
    theirs.reload()
    expect(theirs.locator("#history-list li .conversation-title")).to_have_text(
        ["Cao Bằng có bao nhiêu huyện biên giới?"]
    )
    theirs.screenshot(path=ARTIFACTS / "people-second-browser.png")
    assert not errors, errors

    response = theirs.goto(my_url)  # another browser's conversation does not exist for it
    assert response is not None and response.status == 404
    mine.reload()
    expect(mine.locator("#history-list li .conversation-title")).to_have_text([QUESTION])
    first.close()
    second.close()


def test_admin_uploads_reindexes_and_asks(server: str, browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(server)
    page.get_by_role("link", name="Quản lý bài viết").click()
    page.get_by_label("Chọn tệp").set_input_files(
        [
            {"name": "lung-cu.txt", "mimeType": "text/plain", "buffer": NEW_ARTICLE.encode()},
            {"name": "anh.png", "mimeType": "image/png", "buffer": b"\x89PNG"},
        ]
    )
    page.get_by_role("button", name="Tải lên").click()
    results = page.get_by_role("list", name="Kết quả tải lên")
    expect(results.locator(".accepted")).to_contain_text("lung-cu.txt: đã nhận")
    expect(results.locator(".rejected")).to_contain_text("anh.png: chỉ nhận tệp")
    expect(page.locator(".uploaded-list")).to_contain_text("lung-cu.txt")

    page.get_by_role("button", name="Lập chỉ mục lại").click()
    expect(page.locator("#reindex-message")).to_contain_text("1 bài mới", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#reindex-progress")).to_have_attribute("value", "100")
    page.screenshot(path=ARTIFACTS / "admin-articles.png")

    page.goto(server)
    ask(page, "Bản Lũng Cú có bao nhiêu hộ đồng bào Lô Lô?")
    expect(page.locator(".sources")).to_contain_text("Hà Giang đón đoàn công tác")
    expect(page.locator(".sources .quote").first).to_contain_text("186 hộ")
    page.screenshot(path=ARTIFACTS / "admin-new-article-answer.png")
    context.close()
