"""The chat's journeys in headless Chromium: starters, the conversation list, a server that
cannot be reached, stopping a streamed answer, copying, citation previews, the API docs, and the
whole of it by keyboard and at phone width. Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from embeddings.hashing import HashEmbedder
from qa.core.types import Answer, Hit
from qa.pipeline import Pipeline
from qa.text.starters import starter_questions
from tests.conftest import make_settings
from tests.test_web_browser import (  # noqa: F401  (fixtures)
    ANSWER_TIMEOUT_MS,
    ARTIFACTS,
    QUESTION,
    ask,
    browser,
    server,
)

pytestmark = pytest.mark.browser


def watch_console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_starters_and_the_conversation_list(
    server: str, browser: Browser, pipeline: Pipeline
) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 860}, locale="vi-VN")
    errors = watch_console(page)
    page.goto(server)
    starters = page.locator("button.starter")
    expect(starters).to_have_count(len(starter_questions(pipeline.articles())))
    page.screenshot(path=ARTIFACTS / "chat-starters.png")

    first = starters.first.inner_text()
    starters.first.click()
    expect(page.locator(".turn .question-text")).to_have_text(first)
    expect(page.locator(".turn .answer").first).not_to_have_class(
        "pending", timeout=ANSWER_TIMEOUT_MS
    )
    # the keyword answerer gives its answer whole: nothing says it is being written
    assert page.locator(".stop, .answer-text.streaming").count() == 0

    item = page.locator("#history-list li.conversation").first
    expect(item.locator("a")).to_have_attribute("title", first)
    expect(item.locator(".conversation-date")).to_contain_text("hôm nay")

    ask(page, QUESTION)
    expect(page.locator("#history-list li.conversation")).to_have_count(1)  # the same one
    page.goto(server)
    ask(page, QUESTION)
    expect(page.locator("#history-list li.conversation")).to_have_count(2)
    # a follow-up in the older conversation moves it to the top of the list
    conversations = page.locator("#history-list li.conversation")
    older_id = conversations.nth(1).get_attribute("data-id")
    conversations.nth(1).locator("a").click()
    ask(page, QUESTION)
    expect(conversations.first).to_have_attribute(
        "data-id", older_id or "", timeout=ANSWER_TIMEOUT_MS
    )
    expect(conversations).to_have_count(2)
    expect(conversations.first.locator("a")).to_have_attribute("title", first)

    # rename the newest, in place
    newest = page.locator("#history-list li.conversation").first
    newest.hover()
    newest.locator(".rename").click()
    box = page.get_by_label("Tên mới của cuộc trò chuyện")
    expect(box).to_be_focused()
    box.fill("Dân tộc thiểu số ở Cao Bằng")
    box.press("Enter")
    expect(newest.locator(".conversation-title")).to_have_text("Dân tộc thiểu số ở Cao Bằng")
    expect(page.locator("#history-status")).to_have_text("Đã đổi tên cuộc trò chuyện.")
    # a rename that does not reach the server says so, and keeps the old title
    page.route("**/api/conversations/*", lambda route: route.abort("internetdisconnected"))
    newest.hover()
    newest.locator(".rename").click()
    box.fill("Tên mới")
    box.press("Enter")
    expect(page.locator("#history-status")).to_have_text("Chưa đổi được tên. Hãy thử lại.")
    expect(newest.locator(".conversation-title")).to_have_text("Dân tộc thiểu số ở Cao Bằng")
    page.unroute("**/api/conversations/*")
    errors.clear()  # the refused request's own console line
    page.reload()
    expect(page.locator("#history-list li.conversation a").first).to_have_attribute(
        "title", "Dân tộc thiểu số ở Cao Bằng"
    )

    # search, without diacritics; then clear it
    page.get_by_label("Tìm cuộc trò chuyện").fill("dan toc thieu so")
    expect(page.locator("#history-list li.conversation")).to_have_count(1)
    page.get_by_label("Tìm cuộc trò chuyện").fill("không có gì như thế")
    expect(page.locator("#history-list .empty")).to_have_text("Không có cuộc trò chuyện nào khớp.")
    page.get_by_label("Tìm cuộc trò chuyện").fill("")
    expect(page.locator("#history-list li.conversation")).to_have_count(2)
    page.screenshot(path=ARTIFACTS / "chat-history.png")

    # delete the other one (asked to confirm), then the one open (back to a new chat)
    page.once("dialog", lambda dialog: dialog.accept())
    older = page.locator("#history-list li.conversation").nth(1)
    older.hover()
    older.locator(".delete").click()
    expect(page.locator("#history-list li.conversation")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#history-list li.conversation").hover()
    page.locator("#history-list li.conversation .delete").click()
    expect(page.locator("#history-list li.conversation")).to_have_count(1)  # kept
    assert errors == [], errors


def test_unreachable_server_keeps_the_question_and_offers_retry(
    server: str, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = watch_console(page)
    page.goto(server)
    page.route("**/api/ask/stream", lambda route: route.abort("internetdisconnected"))
    box = page.get_by_label("Câu hỏi của bạn")
    box.fill(QUESTION)
    box.press("Enter")
    failed = page.locator(".answer.failed")
    expect(failed).to_contain_text("Không kết nối được với máy chủ")
    expect(box).to_have_value(QUESTION)  # not wiped
    page.screenshot(path=ARTIFACTS / "chat-unreachable.png")

    page.unroute("**/api/ask/stream")
    failed.get_by_role("button", name="Thử lại").click()
    expect(page.locator(".turn a.cite").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(".turn")).to_have_count(1)  # the same turn, answered
    expect(box).to_have_value("")
    # the failed request is the one console error
    assert all("ERR_INTERNET_DISCONNECTED" in e for e in errors), errors


def test_a_quick_double_enter_asks_once_and_leaves_no_error(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server)
    box = page.get_by_label("Câu hỏi của bạn")
    box.fill(QUESTION)
    box.press("Enter")
    box.press("Enter")
    expect(page.locator(".turn a.cite").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#question-error")).to_be_hidden()
    expect(page.locator(".turn")).to_have_count(1)
    page.wait_for_timeout(1100)
    box.press("Enter")  # an empty box, a while after the last question: that is an error
    expect(page.locator("#question-error")).to_have_text("Câu hỏi trống. Hãy nhập một câu hỏi.")


def test_copy_preview_and_feedback_beside_the_reader(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 1366, "height": 860}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    errors = watch_console(page)
    page.goto(server)
    cite = ask(page, QUESTION)
    quote = page.locator(".sources .quote").first.inner_text()

    cite.hover()
    preview = page.locator("#cite-preview")
    expect(preview).to_be_visible()
    expect(preview.locator(".quote")).to_have_text(quote)
    expect(cite).to_have_attribute("aria-describedby", "cite-preview")
    page.screenshot(path=ARTIFACTS / "chat-preview.png")
    page.mouse.move(5, 5)
    expect(preview).to_be_hidden()

    page.get_by_role("button", name="Sao chép kèm nguồn").click()
    expect(page.locator(".copy-status")).to_have_text("Đã sao chép.")
    copied = page.evaluate("navigator.clipboard.readText()")
    sentence = page.locator(".answer .sentence").first.inner_text().split("[")[0].strip()
    assert sentence in copied
    assert "Nguồn:" in copied and f"“{quote}”" in copied
    assert f"{server}/articles/{cite.get_attribute('data-article')}?start=" in copied

    cite.click()
    expect(page.locator("#reader mark")).to_be_visible()
    up, down = page.locator("button.rate[value='up']"), page.locator("button.rate[value='down']")
    up_box, down_box = up.bounding_box(), down.bounding_box()
    assert up_box and down_box
    assert up_box["y"] == down_box["y"]  # side by side
    line = float(up.evaluate("b => parseFloat(getComputedStyle(b).lineHeight)"))
    assert up_box["height"] < 2 * line + 12 and down_box["height"] < 2 * line + 12
    assert up.evaluate("b => b.scrollWidth <= b.clientWidth")
    page.locator(".feedback").first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "chat-feedback-reader.png")
    assert errors == [], errors
    context.close()


def test_docs_render_markdown_and_try_it_out(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 860})
    errors = watch_console(page)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server) else outside.append(r.url))
    page.goto(f"{server}/docs")
    expect(page.locator(".op-description code", has_text="delta").first).to_be_visible()
    page.get_by_role("link", name="Thử API ngay trên trang").click()
    operation = page.locator(".opblock", has_text="/api/search").first
    expect(operation).to_be_visible(timeout=15_000)
    operation.locator(".opblock-summary").click()
    operation.locator("input[placeholder='q']").fill("Cao Bằng")
    operation.get_by_role("button", name="Execute").click()
    body = operation.locator(".responses-wrapper .highlight-code").first
    expect(body).to_contain_text('"passages"', timeout=15_000)
    page.screenshot(path=ARTIFACTS / "docs-try.png")
    assert outside == [] and errors == [], (outside, errors)


# ----- an answerer that writes its answer piece by piece -----


class SlowWriter:
    """Writes a long answer a word at a time; one that is never stopped ends with no citation."""

    def answer(self, question: str, hits: list[Hit]) -> Answer:
        *_, answer = self.stream(question, hits)
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, hits: list[Hit]) -> Iterator[str | Answer]:
        words = []
        for n in range(200):
            time.sleep(0.05)
            words.append(f"từ{n}")
            yield f"từ{n} "
        yield Answer(question, " ".join(words), [], [], refused=True, hits=hits)


class TestAStreamedAnswer:
    @pytest.fixture
    def pipeline(self, _indexed_dir: Path, tmp_path: Path) -> Pipeline:
        """The server's pipeline (see ``server``) with a language-model answerer that writes."""
        data = tmp_path / "data"
        shutil.copytree(_indexed_dir, data, symlinks=True)
        settings = make_settings(data, answerer="llm")
        return Pipeline(settings, embedder=HashEmbedder(), answerer=SlowWriter())

    def test_stop_while_it_is_written(self, server: str, browser: Browser) -> None:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors = watch_console(page)
        page.goto(server)
        box = page.get_by_label("Câu hỏi của bạn")
        box.fill(QUESTION)
        box.press("Enter")
        written = page.locator(".turn .answer-text.streaming")
        expect(written).to_contain_text("từ3")
        expect(page.locator(".typing")).to_contain_text("Đang viết câu trả lời")
        page.screenshot(path=ARTIFACTS / "chat-streaming.png")
        page.get_by_role("button", name="Dừng trả lời").click()
        stopped = page.locator(".answer.stopped")
        expect(stopped).to_contain_text("Đã dừng; câu trả lời này không được lưu.")
        partial = stopped.locator(".answer-text").inner_text()
        assert partial.startswith("từ0 từ1") and "từ199" not in partial
        expect(box).to_have_value(QUESTION)
        expect(stopped.get_by_role("button", name="Thử lại")).to_be_visible()
        assert page.locator("#history-list li.conversation").count() == 0  # nothing was saved
        assert errors == [], errors


# ----- whole journeys: keyboard only, phone width -----


def tab_to(page: Page, selector: str, key: str = "Tab") -> None:
    for _ in range(60):
        page.keyboard.press(key)
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{key} never reached {selector}")


def test_keyboard_only_journey(server: str, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    errors = watch_console(page)
    page.goto(server)

    tab_to(page, "button.starter")
    starter = page.evaluate("document.activeElement.value")
    page.keyboard.press("Enter")
    expect(page.locator(".turn .question-text")).to_have_text(starter)
    expect(page.locator(".turn .answer").first).not_to_have_class(
        "pending", timeout=ANSWER_TIMEOUT_MS
    )

    page.get_by_label("Câu hỏi của bạn").focus()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator("a.cite").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)

    tab_to(page, "a.cite")
    expect(page.locator("#cite-preview")).to_be_visible()  # on focus, not only on hover
    page.keyboard.press("Escape")
    expect(page.locator("#cite-preview")).to_be_hidden()
    tab_to(page, "button.copy")
    page.keyboard.press("Enter")
    expect(page.locator(".answer-tools:has(button.copy:focus) .copy-status")).to_have_text(
        "Đã sao chép."
    )

    # rename the conversation from the sidebar: its buttons show while the row has focus
    tab_to(page, "#history-list a", "Shift+Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#history-list .rename").first).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Control+A")
    page.keyboard.type("Hỏi bằng bàn phím")
    page.keyboard.press("Enter")
    expect(page.locator("#history-list .conversation-title").first).to_have_text(
        "Hỏi bằng bàn phím"
    )
    expect(page.locator("#history-list .rename").first).to_be_focused()

    # search the list, then delete the open conversation: back to a new chat
    tab_to(page, "#history-q", "Shift+Tab")
    page.keyboard.type("ban phim")
    expect(page.locator("#history-list li.conversation")).to_have_count(1)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#history-list .delete").first).to_be_focused()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/")
    expect(page.locator("#history-list .empty")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "chat-keyboard-journey.png")
    assert errors == [], errors
    context.close()


def test_phone_width_journey(server: str, browser: Browser) -> None:
    page = browser.new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    errors = watch_console(page)

    def fits() -> None:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.goto(server)
    expect(page.locator("button.starter").first).to_be_visible()
    fits()
    page.screenshot(path=ARTIFACTS / "phone-starters.png")
    page.locator("button.starter").first.tap()
    expect(page.locator(".turn .answer").first).not_to_have_class(
        "pending", timeout=ANSWER_TIMEOUT_MS
    )
    fits()

    page.locator("#history-title").tap()  # the list starts folded on a phone
    item = page.locator("#history-list li.conversation").first
    expect(item.locator(".rename")).to_be_visible()  # no hover on a touch screen
    page.once("dialog", lambda dialog: dialog.dismiss())
    item.locator(".delete").tap()
    expect(item).to_be_visible()
    fits()
    page.screenshot(path=ARTIFACTS / "phone-history.png")

    page.goto(f"{server}/articles")
    page.get_by_label("Tìm trong tên và nội dung bài viết").fill("tra vinh")
    page.get_by_role("button", name="Tìm").tap()
    expect(page.locator(".search-summary")).to_contain_text("bài có “tra vinh”")
    expect(page.locator(".article-list .snippet mark").first).to_be_visible()
    fits()
    page.screenshot(path=ARTIFACTS / "phone-article-search.png")
    assert errors == [], errors
