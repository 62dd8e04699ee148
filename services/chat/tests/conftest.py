"""Fixtures for the chat service's tests.

Chat is stateless and talks to two things over HTTP, so the tests run both as real processes:
the memory service under gunicorn (on a private Redis) and the fake OpenAI-compatible upstream.
`app`/`client` are chat itself in-process (Flask's test client); the `live_chat` factory starts chat
under gunicorn with gevent workers for what needs a real socket (heartbeats, disconnects).
"""
from __future__ import annotations

import uuid
from dataclasses import replace

import gevent
import pytest
import requests

from chat import create_app
from chat.config import Config
from rolechat_common import identity
from tests.support.fake_openai import start_fake_openai
from tests.support.processes import TEST_SECRET, Service
from tests.support.sse import parse_sse

UPSTREAM_KEY = "sk-chat-test-upstream-key-never-logged"


@pytest.fixture(scope="session")
def fake_upstream(tmp_path_factory):
    log = tmp_path_factory.mktemp("fake-openai") / "fake-openai.log"
    fake = start_fake_openai(UPSTREAM_KEY, log_path=log)
    yield fake
    fake.stop()


@pytest.fixture
def upstream_key() -> str:
    return UPSTREAM_KEY


@pytest.fixture
def upstream(fake_upstream):
    """The fake upstream, back at its defaults with nothing recorded."""
    fake_upstream.reset()
    return fake_upstream


@pytest.fixture(scope="session")
def memory_service(redis_server, tmp_path_factory):
    logs = tmp_path_factory.mktemp("chat-test-logs")
    service = Service("memory-for-chat", "memory:create_app()", {
        "REDIS_URL": redis_server.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET}, logs).start()
    yield service
    service.stop()


@pytest.fixture
def config(memory_service, upstream) -> Config:
    return Config(memory_url=memory_service.url, identity_secret=TEST_SECRET, openai_api_key=UPSTREAM_KEY,
                  openai_base_url=upstream.base_url, default_model="gpt-4o-mini", sse_heartbeat_seconds=1.0,
                  max_message_chars=200, max_instructions_chars=100, context_summaries=False)


@pytest.fixture
def make_app(config):
    """Chat in-process with a variant of the test config: make_app(max_answer_tokens=5)."""
    made, background = [], []

    def spawn(*args, **kwargs):
        background.append(gevent.spawn(*args, **kwargs))
        return background[-1]

    def make(**changes):
        made.append(create_app(replace(config, **changes)))
        made[-1].extensions["chat.spawn"] = spawn
        return made[-1]

    yield make
    # Background work (summaries) ends with its test: it must not reach the next test's upstream.
    gevent.joinall(background, timeout=10)
    for app in made:  # let memory's gunicorn stop promptly: no idle keep-alive connections left
        app.extensions["chat.memory"].http.clear()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def headers_for(user_id: str, issuer: str = identity.ISSUER_AUTH_PROXY, secret: str = TEST_SECRET) -> dict:
    token = identity.mint(identity.Identity(user_id, user_id), secret, issuer)
    return {identity.IDENTITY_HEADER: token}


@pytest.fixture
def user_id() -> str:
    return "u-" + uuid.uuid4().hex


@pytest.fixture
def who(user_id) -> dict:
    """Headers that carry a fresh user's internal identity, as the auth-proxy sends them."""
    return headers_for(user_id)




class MemoryView:
    """Reads memory directly, as the user, to check what chat stored."""

    def __init__(self, url: str):
        self.url = url

    def conversation(self, user_id: str, cid: str) -> dict:
        response = requests.get(f"{self.url}/api/conversations/{cid}", headers=headers_for(user_id), timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def messages(self, user_id: str, cid: str) -> list[dict]:
        return self.conversation(user_id, cid)["messages"]

    def create(self, user_id: str, **fields) -> dict:
        response = requests.post(f"{self.url}/api/conversations", json=fields, headers=headers_for(user_id),
                                 timeout=5)
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def memory(memory_service) -> MemoryView:
    return MemoryView(memory_service.url)


@pytest.fixture
def new_conversation(client, who):
    def create(**fields) -> dict:
        response = client.post("/api/conversations", json=fields, headers=who)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return create


@pytest.fixture
def say(client, who):
    """Post a message through the test client; returns (response, parsed events)."""
    def post(cid: str, content: str, headers: dict | None = None):
        response = client.post(f"/api/conversations/{cid}/messages", json={"content": content},
                               headers=headers or who)
        events = parse_sse(response.get_data()) if response.mimetype == "text/event-stream" else []
        return response, events
    return post


@pytest.fixture(name="parse_sse")
def parse_sse_fixture():
    return parse_sse


@pytest.fixture(name="headers_for")
def headers_for_fixture():
    return headers_for


@pytest.fixture(scope="module")
def live_chat(memory_service, fake_upstream, tmp_path_factory):
    """Start chat under gunicorn (gevent workers) with extra env; stopped at the end of the module."""
    started: list[Service] = []
    logs = tmp_path_factory.mktemp("chat-live-logs")

    def start(**env) -> Service:
        service = Service(f"chat-{len(started)}", "chat:create_app()", {
            "MEMORY_URL": memory_service.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET,
            "OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": fake_upstream.base_url,
            "DEFAULT_MODEL": "gpt-4o-mini", "SSE_HEARTBEAT_SECONDS": "1", **env}, logs)
        started.append(service.start())
        return service

    yield start
    for service in started:
        service.stop()
