"""In Chromium: pick a built-in role, then make a role of your own, and check what the model is told."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.browser
PRESETS = Path(__file__).resolve().parents[1] / "services" / "chat" / "chat" / "presets.yaml"
ASSISTANT_DONE = """() => { const all = document.querySelectorAll('[data-testid="message-assistant"]');
                           return all.length && all[all.length - 1].dataset.status === 'complete'; }"""


def preset(preset_id: str) -> dict:
    presets = yaml.safe_load(PRESETS.read_text(encoding="utf-8"))["presets"]
    return next(p for p in presets if p["id"] == preset_id)


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def ask(page, text: str) -> None:
    page.get_by_test_id("composer-input").fill(text)
    page.get_by_test_id("send").click()
    page.wait_for_function(ASSISTANT_DONE, timeout=20_000)


def test_pick_a_preset_then_use_a_role_of_your_own(stack, fake, page):
    fake.configure(answer="Think of a loop as a task done once per item.", token_delay=0)
    teacher = preset("programming-teacher")
    page.goto(stack.edge + "/")
    page.get_by_test_id("signin-username").fill("roles-user")
    page.get_by_test_id("signin-submit").click()

    page.get_by_test_id("new-chat").click()
    picker = page.get_by_test_id("role-picker")
    picker.locator("option", has_text=teacher["name"]["en"]).wait_for(state="attached", timeout=10_000)
    picker.select_option(label=teacher["name"]["en"])
    assert page.get_by_test_id("role-input").input_value() == teacher["instructions"]["en"]
    ask(page, "What is a loop?")

    sent = fake.completion_requests()[-1]["messages"]
    assert sent[0] == {"role": "system", "content": teacher["instructions"]["en"]}
    assert sent[-1] == {"role": "user", "content": "What is a loop?"}
    label = page.get_by_test_id("message-assistant").last.get_by_test_id("message-role-label")
    assert label.inner_text() == teacher["name"]["en"]

    mine = "You are a ship's cook. Answer every question with a recipe."
    page.get_by_test_id("roles-manage").click()
    page.get_by_test_id("role-new").click()
    page.get_by_test_id("role-form-name").fill("Ship's cook")
    page.get_by_test_id("role-form-instructions").fill(mine)
    page.get_by_test_id("role-form-save").click()
    page.get_by_test_id("role-item").filter(has_text="Ship's cook").wait_for(timeout=10_000)
    page.get_by_test_id("roles-close").click()

    page.get_by_test_id("new-chat").click()
    page.get_by_test_id("role-picker").select_option(label="Ship's cook")
    ask(page, "How do I boil an egg?")

    sent = fake.completion_requests()[-1]["messages"]
    assert sent[0] == {"role": "system", "content": mine}
    assert sent[-1] == {"role": "user", "content": "How do I boil an egg?"}
    label = page.get_by_test_id("message-assistant").last.get_by_test_id("message-role-label")
    assert label.inner_text() == "Ship's cook"
