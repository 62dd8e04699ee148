"""API clients use the API with a Cognito access token, obtained from a local Cognito emulator."""
from __future__ import annotations

import pytest
import requests

from tests.support.cognito import CognitoEmulator
from tests.support.sse import parse_sse
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    emulator = CognitoEmulator(tmp_path_factory.mktemp("cognito")).start()
    pool = emulator.new_pool()
    pool.add_user("api-user", groups=("admins",))
    pool.add_user("other-user")
    yield pool
    emulator.stop()


@pytest.fixture(scope="module")
def bearer_stack(tmp_path_factory, pool, fake_upstream):
    stack = Stack(tmp_path_factory.mktemp("bearer-stack"), fake_upstream.base_url, cognito_issuer=pool.issuer,
                  proxy_env={"COGNITO_API_CLIENT_IDS": pool.client_id, "COGNITO_JWKS_URL": pool.jwks_url}).start()
    yield stack
    stack.stop()


def api(stack, token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.base = stack.url("auth-proxy")
    return session


def test_an_access_token_works_for_the_whole_api(bearer_stack, pool, fake):
    client = api(bearer_stack, pool.sign_in("api-user")["AccessToken"])
    me = client.get(f"{client.base}/api/me", timeout=5).json()
    assert me["username"] == "api-user" and me["groups"] == ["admins"]
    cid = client.post(f"{client.base}/api/conversations", json={"instructions": "Be terse."}, timeout=5).json()["id"]
    events = parse_sse(client.post(f"{client.base}/api/conversations/{cid}/messages",
                                   json={"content": "ping"}, timeout=30).content)
    assert events[-1].kind == "done"
    assert fake.completion_requests()[-1]["messages"][0]["content"] == "Be terse."

    other = api(bearer_stack, pool.sign_in("other-user")["AccessToken"])
    assert other.get(f"{other.base}/api/conversations/{cid}", timeout=5).status_code == 404


def test_id_tokens_and_garbage_are_refused(bearer_stack, pool):
    tokens = pool.sign_in("api-user")
    for token in (tokens["IdToken"], tokens["RefreshToken"], "garbage", ""):
        response = api(bearer_stack, token).get(f"{bearer_stack.url('auth-proxy')}/api/me", timeout=5)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
