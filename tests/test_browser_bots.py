"""In Chromium, through the real stack: a published bot's public page, used without signing in."""
from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import DESKTOP, unique_user

pytestmark = pytest.mark.browser


def publish(stack, slug: str, **fields) -> None:
    owner = stack.login(unique_user("owner"))
    role = owner.post(f"{stack.edge}/api/roles", timeout=10,
                      json={"name": "Kyoto Tea", "instructions": "You run a tea shop in Kyoto."})
    assert role.status_code == 201, role.text
    bot = owner.post(f"{stack.edge}/api/bots", timeout=10, json={
        "role_id": role.json()["id"], "slug": slug, "greeting": "Welcome! Ask me about **tea**.",
        "suggestions": ["Which tea for a cold day?", "Do you ship abroad?"], **fields})
    assert bot.status_code == 201, bot.text


def ask(page, text: str) -> None:
    """Type and send a question once the page can send (not while the last answer is finishing)."""
    page.get_by_test_id("public-composer").fill(text)
    expect(page.get_by_test_id("public-send")).to_be_enabled(timeout=15_000)
    page.get_by_test_id("public-composer").press("Enter")
    expect(page.get_by_test_id("public-composer")).to_have_value("")  # taken: the composer cleared


@pytest.fixture
def visitor_page(browser):
    context = browser.new_context(locale="en-US", viewport=DESKTOP)
    yield context.new_page()
    context.close()


def test_a_visitor_opens_the_page_without_signing_in_and_sees_the_answer_stream(visitor_page, stack, fake):
    publish(stack, "kyoto-tea")
    fake.configure(answer="Genmaicha, roasted rice green tea, warms you up.", token_delay=0.05)
    page = visitor_page
    page.goto(f"{stack.edge}/b/kyoto-tea")
    expect(page.get_by_test_id("public-bot-name")).to_have_text("Kyoto Tea")
    expect(page.get_by_test_id("public-greeting")).to_contain_text("Welcome! Ask me about tea.")
    assert page.locator("[data-testid=public-greeting] strong").inner_text() == "tea"
    expect(page.get_by_test_id("new-chat")).to_have_count(0)  # none of the signed-in app
    page.get_by_test_id("public-suggestion").first.click()
    expect(page.get_by_test_id("public-question")).to_have_text("Which tea for a cold day?")
    expect(page.get_by_test_id("public-answer")).to_have_text("Genmaicha, roasted rice green tea, warms you up.",
                                                              timeout=15_000)
    expect(page.get_by_test_id("public-suggestion")).to_have_count(0)

    ask(page, "Do you ship abroad?")
    expect(page.get_by_test_id("public-answer")).to_have_count(2, timeout=15_000)
    page.reload()  # the conversation is resumed
    expect(page.get_by_test_id("public-question")).to_have_count(2)

    embedded = requests.get(f"{stack.edge}/b/kyoto-tea", timeout=5)
    assert "frame-ancestors *" in embedded.headers["Content-Security-Policy"], "the page can be embedded"
    assert "frame-ancestors 'none'" in requests.get(f"{stack.edge}/", timeout=5).headers["Content-Security-Policy"]


def test_a_spent_budget_shows_a_polite_notice_not_an_error(visitor_page, stack, fake):
    publish(stack, "budget-tea", daily_token_budget=10)
    fake.configure(tokens=40)
    page = visitor_page
    page.goto(f"{stack.edge}/b/budget-tea")
    ask(page, "hello")
    expect(page.get_by_test_id("public-answer")).to_have_count(1, timeout=15_000)
    ask(page, "and again")
    notice = page.get_by_test_id("public-notice")
    expect(notice).to_contain_text("come back tomorrow", timeout=10_000)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_test_id("public-send")).to_be_disabled()


def test_an_unknown_bot_is_a_friendly_page(visitor_page, stack):
    visitor_page.goto(f"{stack.edge}/b/no-such-bot")
    expect(visitor_page.get_by_test_id("public-not-found")).to_be_visible()
