"""In Chromium: hostile model output stays inert, and failures say what to do next."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.support.browser import body_text, screenshot, send, signed_in_page, wait_for_answers

pytestmark = pytest.mark.browser
HOSTILE = ("Before <script>window.__pwned = 1; alert('script')</script> after.\n\n"
           "<img src=//evil.example/pixel.png onerror=\"alert('img')\">\n\n"
           "<iframe src=\"https://evil.example/frame\"></iframe>\n\n"
           "![tracker](https://evil.example/track.png?who=you)\n\n"
           "[click me](javascript:alert('link'))\n\n"
           "<a href=\"https://evil.example\" onclick=\"alert('a')\">raw link</a>")


@pytest.fixture
def page(browser, stack, fake):
    page = signed_in_page(browser, stack)
    yield page
    page.context.close()


def test_script_and_external_images_in_an_answer_never_run_or_load(page, stack, fake):
    edge = urlsplit(stack.edge).netloc
    elsewhere, dialogs, errors = [], [], []
    page.on("request", lambda r: urlsplit(r.url).netloc != edge and elsewhere.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))

    fake.configure(answer=HOSTILE)
    send(page, "Say something nasty")
    wait_for_answers(page, 1)
    answer = page.get_by_test_id("message-assistant").last
    page.wait_for_timeout(300)  # give anything that would load or run the time to do so

    assert elsewhere == [] and dialogs == [] and errors == []
    assert page.evaluate("window.__pwned") is None
    for selector in ("script", "img", "iframe", "[onerror]", "[onclick]"):
        assert answer.locator(selector).count() == 0, selector
    text = body_text(answer)
    assert "<script>window.__pwned = 1;" in text  # shown, as text
    assert '<img src=//evil.example/pixel.png' in text
    assert answer.locator("a.md-image-link").inner_text() == "tracker"  # a link, not an image
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not any((h or "").lower().startswith("javascript:") for h in hrefs)

    # The stored copy reloads just as inert.
    page.reload()
    page.get_by_test_id("conversation-item").first.locator(".conversation-open").click()
    wait_for_answers(page, 1)
    assert page.get_by_test_id("message-assistant").last.locator("script, img, iframe").count() == 0
    assert elsewhere == [] and dialogs == [] and errors == []


def test_upstream_failure_offers_retry(page, fake):
    fake.configure(fail_status=500)
    send(page, "Are you there?")
    wait_for_answers(page, 1, "failed")
    fake.configure(fail_status=None)
    answer = page.get_by_test_id("message-assistant").last
    assert "try again" in answer.inner_text()
    screenshot(page, "upstream-failure")
    answer.get_by_test_id("regenerate").click()  # labelled Retry on a failed answer
    wait_for_answers(page, 1)  # the failed answer is replaced in place, not followed by a second one
    assert "Are you there?" in body_text(page.get_by_test_id("message-assistant").last)
    assert [body_text(m) for m in page.get_by_test_id("message-user").all()] == ["Are you there?"]


def test_rate_limited_says_when_to_retry(page, fake):
    body = json.dumps({"error": {"code": "rate_limited", "message": "Too many requests."}})
    page.route("**/api/conversations/*/messages",
               lambda route: route.fulfill(status=429, body=body, content_type="application/json",
                                           headers={"Retry-After": "3"}))
    send(page, "Hello?")
    banner = page.get_by_test_id("error-banner")
    banner.wait_for()
    assert "Try again in 3 seconds" in banner.inner_text()
    retry = page.get_by_test_id("error-retry")
    assert retry.is_disabled() and "Retry in" in retry.inner_text()
    assert page.get_by_test_id("composer-input").input_value() == "Hello?"  # the text is kept
    page.unroute("**/api/conversations/*/messages")
    page.wait_for_function("() => !document.querySelector('[data-testid=error-retry]').disabled", timeout=6000)
    retry.click()
    wait_for_answers(page, 1)
    assert page.get_by_test_id("composer-input").input_value() == ""


def test_lost_connection_offers_retry(page, fake):
    page.route("**/api/conversations/*/messages", lambda route: route.abort("internetdisconnected"))
    send(page, "Anyone?")
    wait_for_answers(page, 1, "interrupted")
    answer = page.get_by_test_id("message-assistant").last
    assert "Could not reach the server" in answer.inner_text()
    page.unroute("**/api/conversations/*/messages")
    answer.get_by_test_id("regenerate").click()
    wait_for_answers(page, 2)


def test_expired_session_asks_to_sign_in_again(page, stack, fake):
    send(page, "First")
    wait_for_answers(page, 1)
    assert page.evaluate("fetch('/local/logout', {method: 'POST'}).then(r => r.status)") == 204
    send(page, "Second")
    page.get_by_test_id("signin-username").wait_for()
    page.get_by_test_id("signin-username").fill("someone-else")
    page.get_by_test_id("signin-submit").click()
    page.get_by_test_id("new-chat").wait_for()
