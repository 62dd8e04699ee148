"""Chromium for the browser tests: one launch per session, pages signed in through the real edge,
and the small helpers the journeys share (send a message, wait for an answer, axe-core scan)."""
from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest

from .processes import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
AXE_JS = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LAST_ANSWER = "() => { const all = document.querySelectorAll('[data-testid=\"message-assistant\"]');" \
              " return all.length ? all[all.length - 1] : null; }"


@contextlib.contextmanager
def launched_chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/system-deps.sh --browser")
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("the front end is not built: run make frontend")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield browser
        finally:
            browser.close()


def unique_user(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def signed_in_page(browser, stack, username: str | None = None, *, locale: str = "en-US",
                   viewport: dict | None = None, color_scheme: str = "light", permissions: tuple = ()):
    """A new context and page at the app, signed in as `username` (a fresh user by default)."""
    context = browser.new_context(locale=locale, viewport=viewport or DESKTOP, color_scheme=color_scheme)
    if permissions:
        context.grant_permissions(list(permissions), origin=stack.edge)
    response = context.request.post(f"{stack.edge}/local/login",
                                    data={"username": username or unique_user("user")})
    assert response.status == 204, response.text()
    page = context.new_page()
    page.goto(stack.edge + "/")
    page.get_by_test_id("new-chat").wait_for()
    return page


def send(page, text: str) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("send").wait_for()  # not while the previous answer is still finishing
    page.get_by_test_id("composer-input").fill(text)
    expect(page.get_by_test_id("send")).to_be_enabled()  # the composer takes Enter only when it can send
    page.get_by_test_id("composer-input").press("Enter")


def wait_for_answers(page, count: int, status: str = "complete", timeout: float = 15_000) -> None:
    """Waits until there are `count` answers and the last one has `status`."""
    page.wait_for_function(
        """([count, status]) => { const all = document.querySelectorAll('[data-testid="message-assistant"]');
               return all.length === count && all[count - 1].dataset.status === status; }""",
        arg=[count, status], timeout=timeout)


def wait_for_streaming_text(page, timeout: float = 10_000) -> None:
    page.wait_for_function(
        f"() => {{ const el = ({LAST_ANSWER})(); return el && el.dataset.status === 'streaming'"
        " && el.innerText.trim().length > 0; }", timeout=timeout)


def body_text(locator) -> str:
    return locator.get_by_test_id("message-body").inner_text().strip()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def axe_violations(page, impacts: tuple = ("serious", "critical")) -> list[dict]:
    """Runs axe-core in the page and returns the violations of the given impacts.

    The page's CSP refuses inline scripts, so `add_script_tag` cannot inject axe; the driver's
    own evaluation (DevTools protocol) is not subject to the page's CSP and loads it instead."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run npm ci in frontend/")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary) }));
    }""")
    return [v for v in result if v["impact"] in impacts]
