"""The whole stack as real processes, shared by the end-to-end tests in this folder."""
from __future__ import annotations

import pytest

from tests.support.fake_openai import start_fake_openai
from tests.support.stack import UPSTREAM_KEY, Stack


@pytest.fixture(scope="session")
def fake_upstream(tmp_path_factory):
    fake = start_fake_openai(api_key=UPSTREAM_KEY, log_path=tmp_path_factory.mktemp("fake") / "fake.log")
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, fake_upstream):
    running = Stack(tmp_path_factory.mktemp("stack"), fake_upstream.base_url).start()
    yield running
    running.stop()


@pytest.fixture
def fake(fake_upstream):
    """The fake upstream with default behaviour and no recorded requests."""
    fake_upstream.reset()
    return fake_upstream


@pytest.fixture(scope="session")
def browser():
    """One Chromium for every browser test of the session."""
    from tests.support.browser import launched_chromium

    with launched_chromium() as chromium:
        yield chromium
