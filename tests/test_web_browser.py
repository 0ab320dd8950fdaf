"""The chat page in headless Chromium: ask, read the answer, open the cited characters.

Uses Debian's Chromium (`make browser-deps`); Playwright's own browser download needs internet.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from qa.core.settings import PROJECT_ROOT
from qa.pipeline import Pipeline
from web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
QUESTION = "Tỷ lệ người DTTS ở Cao Bằng là bao nhiêu?"
ANSWER_TIMEOUT_MS = 30_000


@pytest.fixture
def server(pipeline: Pipeline) -> Iterator[str]:
    """The real app under uvicorn on a free port, in a thread."""
    config = uvicorn.Config(
        create_app(pipeline.settings, pipeline), host="127.0.0.1", port=0, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser-deps`")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def ask(page: Page, question: str) -> Locator:
    """Type a question, press Enter, and return the first citation marker of the answer."""
    page.get_by_label("Câu hỏi của bạn").fill(question)
    page.keyboard.press("Enter")
    cite = page.locator(".turn .answer a.cite").first
    expect(cite).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return cite


def cited_text(server: str, cite: Locator) -> str:
    """The characters a citation points at, straight from the API."""
    article = httpx.get(f"{server}/api/articles/{cite.get_attribute('data-article')}").json()
    return article["text"][
        int(cite.get_attribute("data-start")) : int(cite.get_attribute("data-end"))
    ]


def test_citation_opens_the_article_beside_the_chat(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 860}, locale="vi-VN")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)

    page.get_by_role("button", name="Hỏi").click()
    expect(page.locator("#question-error")).to_have_text("Câu hỏi trống. Hãy nhập một câu hỏi.")

    cite = ask(page, QUESTION)
    assert cite.inner_text() == "[1]"
    quote = page.locator(".sources .quote").first.inner_text()
    assert quote == cited_text(server, cite)
    assert "/c/" in page.url  # the new conversation has its own address

    cite.click()
    mark = page.locator("#reader mark")
    expect(mark).to_be_visible()
    assert mark.inner_text() == quote
    expect(mark).to_be_in_viewport()
    # the reader shows the whole article around the quote
    assert len(page.locator("#reader-text").inner_text()) > len(quote) * 2
    page.screenshot(path=ARTIFACTS / "chat-desktop.png")

    page.keyboard.press("Escape")
    expect(page.locator("#reader")).to_be_hidden()
    page.reload()
    expect(page.locator(".turn .question-text")).to_have_text(QUESTION)

    page.get_by_label("Câu hỏi của bạn").fill("Thủ đô của nước Pháp có bao nhiêu cây cầu?")
    page.keyboard.press("Enter")
    refusal = page.locator(".answer.refused")
    expect(refusal).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(refusal.locator(".passages li").first).to_be_visible()
    refusal.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "chat-refusal.png")
    assert not errors, errors


def test_phone_opens_the_citation_on_its_own_page(server: str, browser: Browser) -> None:
    page = browser.new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(server)
    cite = ask(page, QUESTION)
    quote = cited_text(server, cite)
    page.screenshot(path=ARTIFACTS / "chat-phone.png")

    cite.click()
    page.wait_for_url("**/articles/**")
    mark = page.locator("mark#cited")
    assert mark.inner_text() == quote
    expect(mark).to_be_in_viewport()
    page.screenshot(path=ARTIFACTS / "article-phone.png")


def test_keyboard_only(server: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server)

    def tab_to(selector: str) -> None:
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to(".skip-link")
    tab_to("#question")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(page.locator("a.cite").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)

    tab_to("a.cite")
    page.keyboard.press("Enter")
    expect(page.locator("#reader mark")).to_be_focused()
    tab_to("button.rate[value='up']")
    page.keyboard.press("Enter")
    expect(page.locator(".feedback-status")).to_have_text("Cảm ơn bạn đã đánh giá!")
    expect(page.locator("button.rate[value='up']")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=ARTIFACTS / "chat-keyboard.png")
