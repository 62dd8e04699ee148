"""In Chromium, through the real stack and the fake upstream: the journeys of the chat screen."""
from __future__ import annotations

import pytest

from tests.support.browser import (PHONE, body_text, screenshot, send, signed_in_page, wait_for_answers,
                                   wait_for_streaming_text)

pytestmark = pytest.mark.browser
CODE_ANSWER = ("Here is a function:\n\n```python\ndef greet(name):\n    # say hello\n    return f\"Hello, {name}!\"\n```\n\n"
               "| Language | Typing |\n| --- | --- |\n| Python | dynamic |\n| Rust | static |\n")


@pytest.fixture
def page(browser, stack, fake):
    page = signed_in_page(browser, stack, permissions=("clipboard-read", "clipboard-write"))
    yield page
    page.context.close()


def conversation_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid=conversation-item] .conversation-open").all_inner_texts()]


def test_sidebar_two_chats_rename_search_delete(page, stack):
    send(page, "Plan a trip to Kyoto")
    wait_for_answers(page, 1)
    page.get_by_test_id("new-chat").click()
    send(page, "Explain Python decorators")
    wait_for_answers(page, 1)

    items = page.get_by_test_id("conversation-item")
    assert items.count() == 2
    assert page.get_by_test_id("conversation-group").all_text_contents() == ["Today"]
    first_id, second_id = (items.nth(i).get_attribute("data-id") for i in range(2))
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-item]').length === 2")

    # Rename the newest one in place.
    items.first.hover()
    items.first.get_by_test_id("conversation-rename").click()
    page.get_by_test_id("rename-input").fill("Decorators")
    page.get_by_test_id("rename-input").press("Enter")
    page.wait_for_function("() => [...document.querySelectorAll('.conversation-open')].some(b => b.innerText === 'Decorators')")
    assert page.get_by_test_id("chat-title").inner_text() == "Decorators"
    api = page.context.request.get(f"{stack.edge}/api/conversations/{first_id}").json()
    assert api["title"] == "Decorators"

    # Search filters the list; clearing it brings both back.
    page.get_by_test_id("conversation-search").fill("decor")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-item]').length === 1")
    assert conversation_titles(page) == ["Decorators"]
    page.get_by_test_id("conversation-search").fill("no such chat")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-item]').length === 0")
    assert "No conversations match" in page.get_by_test_id("sidebar").inner_text()
    page.get_by_test_id("conversation-search").fill("")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-item]').length === 2")
    screenshot(page, "sidebar")

    # Delete asks first; Cancel keeps it, Delete removes it from the list and the server.
    target = page.locator(f"[data-testid=conversation-item][data-id='{second_id}']")
    target.hover()
    target.get_by_test_id("conversation-delete").click()
    target.get_by_role("button", name="Cancel").click()
    assert items.count() == 2
    target.hover()
    target.get_by_test_id("conversation-delete").click()
    target.get_by_test_id("confirm-delete").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-item]').length === 1")
    assert page.context.request.get(f"{stack.edge}/api/conversations/{second_id}").status == 404


def test_stop_mid_stream_keeps_the_partial_answer(page, fake):
    fake.configure(answer="word " * 400, token_delay=0.03)
    send(page, "Write a very long essay")
    wait_for_streaming_text(page)
    assert page.get_by_test_id("stop").is_visible()
    page.get_by_test_id("stop").click()
    wait_for_answers(page, 1, "interrupted")
    assert "word" in body_text(page.get_by_test_id("message-assistant").last)
    fake.wait_for_stream(lambda s: s["cancelled"], timeout=5)
    assert page.get_by_test_id("send").is_visible()


def test_escape_stops_and_shift_enter_adds_a_line(page, fake):
    box = page.get_by_test_id("composer-input")
    box.fill("line one")
    box.press("Shift+Enter")
    box.type("line two")
    assert box.input_value() == "line one\nline two"
    assert page.get_by_test_id("message-user").count() == 0
    fake.configure(answer="token " * 400, token_delay=0.03)
    box.press("Enter")
    wait_for_streaming_text(page)
    page.keyboard.press("Escape")
    wait_for_answers(page, 1, "interrupted")
    assert body_text(page.get_by_test_id("message-user").last) == "line one\nline two"


def texts(page, testid: str) -> list[str]:
    return [body_text(m) for m in page.get_by_test_id(testid).all()]


def wait_for_last_answer(page, text: str) -> None:
    page.wait_for_function(
        """(text) => { const all = document.querySelectorAll('[data-testid="message-assistant"]');
               const last = all[all.length - 1];
               return last && last.dataset.status === 'complete' && last.innerText.includes(text); }""",
        arg=text, timeout=15_000)


def test_regenerate_edit_and_resend_and_copy(page, stack, fake):
    fake.configure(answer="Four.")
    send(page, "What is 2+2?")
    wait_for_answers(page, 1)
    assert page.get_by_test_id("message-model").last.inner_text() == "gpt-4o-mini"
    cid = page.get_by_test_id("conversation-item").first.get_attribute("data-id")

    def stored() -> list[tuple[str, str]]:
        messages = page.context.request.get(f"{stack.edge}/api/conversations/{cid}").json()["messages"]
        return [(m["role"], m["content"]) for m in messages]

    # Regenerate: the same question again, in place: the old answer is replaced, not repeated.
    fake.configure(answer="It is four.")
    page.get_by_test_id("regenerate").click()
    wait_for_last_answer(page, "It is four.")
    wait_for_answers(page, 1)
    assert texts(page, "message-user") == ["What is 2+2?"]
    assert texts(page, "message-assistant") == ["It is four."]
    assert fake.completion_requests()[-1]["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert page.get_by_test_id("regenerate").count() == 1  # only on the latest answer
    assert stored() == [("user", "What is 2+2?"), ("assistant", "It is four.")]

    # A second exchange, then edit the first question: everything after it disappears.
    fake.configure(answer="Ten.")
    send(page, "What is 5+5?")
    wait_for_answers(page, 2)
    fake.configure(answer="Six.")
    first = page.get_by_test_id("message-user").first
    first.get_by_test_id("edit-message").click()
    page.get_by_test_id("edit-input").fill("What is 3+3?")
    page.get_by_test_id("edit-send").click()
    wait_for_last_answer(page, "Six.")
    wait_for_answers(page, 1)
    assert texts(page, "message-user") == ["What is 3+3?"]
    assert texts(page, "message-assistant") == ["Six."]
    assert fake.completion_requests()[-1]["messages"] == [{"role": "user", "content": "What is 3+3?"}]
    assert stored() == [("user", "What is 3+3?"), ("assistant", "Six.")]

    # After a reload the same history comes back: no duplicate question, no old answer.
    page.reload()
    page.get_by_test_id("conversation-item").first.locator(".conversation-open").click()
    wait_for_answers(page, 1)
    assert texts(page, "message-user") == ["What is 3+3?"]

    # Copy a message.
    page.get_by_test_id("message-assistant").first.get_by_test_id("copy-message").click()
    page.wait_for_function("() => document.querySelector('[data-copied]') !== null")
    assert page.evaluate("navigator.clipboard.readText()") == "Six."


def test_code_blocks_are_highlighted_and_copyable(page, fake):
    fake.configure(answer=CODE_ANSWER)
    send(page, "Show me a Python function and a table")
    wait_for_answers(page, 1)
    answer = page.get_by_test_id("message-assistant").last
    assert answer.locator("pre code.hljs .hljs-keyword").first.inner_text() == "def"
    assert answer.locator("pre code .hljs-comment").count() == 1
    assert answer.locator("pre code .hljs-string").count() >= 1
    assert answer.locator("table th").all_inner_texts() == ["Language", "Typing"]
    answer.get_by_test_id("code-copy").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.startsWith('def greet'))")
    assert page.evaluate("navigator.clipboard.readText()").endswith('return f"Hello, {name}!"')
    screenshot(page, "code-block")


def test_language_follows_the_browser_and_switches(browser, stack, fake):
    page = signed_in_page(browser, stack, locale="ja-JP")
    try:
        assert page.get_by_test_id("send").inner_text() == "送信"
        assert page.get_by_test_id("new-chat").inner_text().strip() == "新しいチャット"
        assert page.evaluate("document.documentElement.lang") == "ja"
        send(page, "こんにちは")
        wait_for_answers(page, 1)
        assert page.get_by_test_id("conversation-group").first.text_content() == "今日"
        screenshot(page, "chat-ja")
        page.get_by_test_id("language-switch").select_option("en")
        assert page.get_by_test_id("send").inner_text() == "Send"
        assert page.get_by_test_id("conversation-group").first.text_content() == "Today"
        page.reload()
        page.get_by_test_id("new-chat").wait_for()
        assert page.get_by_test_id("new-chat").inner_text().strip() == "New chat"
        page.get_by_test_id("language-switch").select_option("ja")
        assert page.get_by_test_id("send").inner_text() == "送信"
    finally:
        page.context.close()


def test_phone_width(browser, stack, fake):
    page = signed_in_page(browser, stack, viewport=PHONE)
    try:
        sidebar = page.get_by_test_id("sidebar")
        assert sidebar.bounding_box()["x"] + sidebar.bounding_box()["width"] <= 1, "the sidebar starts hidden"
        send(page, "Hello from a phone")
        wait_for_answers(page, 1)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "phone-chat")
        page.get_by_test_id("sidebar-toggle").click()
        page.wait_for_function("() => document.querySelector('[data-testid=sidebar]').getBoundingClientRect().left >= 0")
        assert page.get_by_test_id("conversation-item").count() == 1
        screenshot(page, "phone-sidebar")
        page.get_by_test_id("new-chat").click()
        page.wait_for_function("() => document.querySelector('[data-testid=sidebar]').getBoundingClientRect().right <= 1")
        assert page.get_by_test_id("message-user").count() == 0
    finally:
        page.context.close()


def test_dark_theme_follows_the_system_and_the_toggle_is_remembered(browser, stack, fake):
    page = signed_in_page(browser, stack, color_scheme="dark")
    background = "() => getComputedStyle(document.body).backgroundColor"
    try:
        send(page, "Hello in the dark")
        wait_for_answers(page, 1)
        assert page.evaluate(background) == "rgb(23, 24, 28)"
        screenshot(page, "chat-dark")
        page.get_by_test_id("theme-toggle").click()
        assert page.evaluate(background) == "rgb(255, 255, 255)"
        page.reload()
        page.get_by_test_id("new-chat").wait_for()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        assert page.evaluate(background) == "rgb(255, 255, 255)"
        page.get_by_test_id("theme-toggle").click()
        assert page.evaluate(background) == "rgb(23, 24, 28)"
    finally:
        page.context.close()


def test_jump_to_latest_when_scrolled_up(page, fake):
    fake.configure(answer="line\n\n" * 120, token_delay=0.01)
    send(page, "Give me many lines")
    wait_for_streaming_text(page)
    page.wait_for_function("() => { const m = document.querySelector('[data-testid=messages]');"
                           " return m.scrollHeight > m.clientHeight * 2; }", timeout=15_000)
    page.get_by_test_id("messages").evaluate("m => { m.scrollTop = 0; m.dispatchEvent(new Event('scroll')); }")
    page.get_by_test_id("jump-latest").wait_for()
    wait_for_answers(page, 1, timeout=20_000)
    assert page.get_by_test_id("messages").evaluate("m => m.scrollTop") < 50, "it stayed where the reader was"
    page.get_by_test_id("jump-latest").click()
    assert page.get_by_test_id("messages").evaluate("m => m.scrollHeight - m.scrollTop - m.clientHeight") < 5
