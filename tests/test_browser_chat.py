"""In Chromium: sign in, give the bot a role, ask, and watch the answer stream in."""
from __future__ import annotations

import pytest

from tests.support.browser import ARTIFACTS, body_text

pytestmark = pytest.mark.browser
ANSWER = ("A loop repeats a block of code. In Python, write for item in items: and indent the body. "
          "Each pass takes the next item until none are left.")


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def test_sign_in_set_a_role_and_watch_the_answer_stream(stack, fake, page):
    fake.configure(answer=ANSWER, token_delay=0.08)
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(stack.edge + "/")
    page.get_by_test_id("signin-username").fill("tanaka")
    page.get_by_test_id("signin-submit").click()

    page.get_by_test_id("new-chat").click()
    page.get_by_test_id("role-input").fill("You are a programming teacher")
    page.get_by_test_id("composer-input").fill("How do I write a loop in Python?")
    page.get_by_test_id("send").click()

    answer = page.get_by_test_id("message-assistant").last
    # While it streams, part of the answer is already on screen (the Stop button is offered).
    page.wait_for_function(
        """() => { const all = document.querySelectorAll('[data-testid="message-assistant"]');
                   const el = all[all.length - 1];
                   return el && el.dataset.status === 'streaming' && el.innerText.trim().length > 0; }""",
        timeout=10_000)
    partial = answer.inner_text()
    assert page.get_by_test_id("stop").is_visible()
    page.screenshot(path=str(ARTIFACTS / "chat-streaming.png"))

    page.wait_for_function(
        """() => { const all = document.querySelectorAll('[data-testid="message-assistant"]');
                   return all.length && all[all.length - 1].dataset.status === 'complete'; }""",
        timeout=20_000)
    final = answer.inner_text()
    assert len(partial) < len(final), "the answer grew token by token"
    assert "A loop repeats a block of code." in final and "until none are left" in final
    page.screenshot(path=str(ARTIFACTS / "chat-complete.png"))

    sent = fake.completion_requests()[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "You are a programming teacher"}
    assert sent[-1] == {"role": "user", "content": "How do I write a loop in Python?"}
    assert body_text(page.get_by_test_id("message-user").last) == "How do I write a loop in Python?"


def test_the_interface_speaks_japanese(stack, browser):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(stack.edge + "/")
        label = page.get_by_test_id("signin-submit").inner_text()
        assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in label), label
    finally:
        context.close()
