"""axe-core in Chromium: no serious or critical accessibility violations on the main screens."""
from __future__ import annotations

import pytest

from tests.support.browser import PHONE, axe_violations, send, signed_in_page, wait_for_answers

pytestmark = pytest.mark.browser
ANSWER = "Sure:\n\n```python\nprint('hi')\n```\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n[docs](https://example.com)"


def assert_clean(page, where: str) -> None:
    bad = axe_violations(page)
    assert bad == [], f"{where}: " + "\n".join(f"{v['id']} ({v['impact']}): {v['help']} {v['nodes']}" for v in bad)


def test_sign_in_screen(browser, stack):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    try:
        page.goto(stack.edge + "/")
        page.get_by_test_id("signin-username").wait_for()
        assert_clean(page, "sign-in (ja)")
    finally:
        context.close()


@pytest.mark.parametrize("locale, scheme, viewport", [
    ("en-US", "light", None), ("ja-JP", "dark", None), ("en-US", "light", PHONE)],
    ids=["en-light-desktop", "ja-dark-desktop", "en-light-phone"])
def test_chat_screen(browser, stack, fake, locale, scheme, viewport):
    fake.configure(answer=ANSWER)
    page = signed_in_page(browser, stack, locale=locale, color_scheme=scheme, viewport=viewport)
    try:
        assert_clean(page, "empty chat")
        send(page, "Show me code")
        wait_for_answers(page, 1)
        assert_clean(page, "chat with an answer")
        if viewport:
            page.get_by_test_id("sidebar-toggle").click()
            page.wait_for_timeout(300)
            assert_clean(page, "open sidebar")
        elif page.get_by_test_id("pins-toggle").count():
            page.get_by_test_id("pins-toggle").click()
            page.get_by_test_id("pins-panel").wait_for()
            assert_clean(page, "pins panel")
    finally:
        page.context.close()
