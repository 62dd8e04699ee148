"""Local sign-in: a plain username, a signed HttpOnly session cookie, the same user id every time."""
from __future__ import annotations

import uuid

import pytest

from local_edge.signin import USER_NAMESPACE, user_id_for


def forwarded_identity(client, stand_in) -> str | None:
    assert client.get("/api/me").status_code == 200
    return stand_in.last["headers"].get("x-amzn-oidc-identity")


def test_login_sets_a_signed_httponly_lax_cookie(client):
    response = client.post("/local/login", json={"username": "alice"})
    assert response.status_code == 204
    assert response.get_data() == b""
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("rolechat_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie


@pytest.mark.parametrize("username", ["a", "Alice.Smith_01-x", "a" * 64, "...", "-_-"])
def test_valid_usernames(client, username):
    assert client.post("/local/login", json={"username": username}).status_code == 204


@pytest.mark.parametrize("body", [
    {"username": ""}, {"username": "a b"}, {"username": "a" * 65}, {"username": "alice\n"},
    {"username": "ålice"}, {"username": "a/b"}, {"username": "<script>"}, {"username": 42},
    {"username": None}, {"username": ["alice"]}, {}, {"name": "alice"},
])
def test_invalid_usernames_are_400(client, body):
    response = client.post("/local/login", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_username"
    assert "Set-Cookie" not in response.headers


def test_login_needs_a_json_object(client):
    assert client.post("/local/login", data="username=alice",
                       content_type="application/x-www-form-urlencoded").status_code == 415
    response = client.post("/local/login", json=["alice"])
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_logout_clears_the_cookie(client, login, stand_in):
    login("alice")
    assert forwarded_identity(client, stand_in)
    response = client.post("/local/logout")
    assert response.status_code == 204
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("rolechat_session=;") and "Expires=Thu, 01 Jan 1970" in cookie
    assert forwarded_identity(client, stand_in) is None


def test_logout_without_a_session_is_fine(client):
    assert client.post("/local/logout").status_code == 204


def test_same_username_same_user_id_different_usernames_differ(make_app, stand_in):
    first, second = make_app().test_client(), make_app().test_client()
    first.post("/local/login", json={"username": "alice"})
    second.post("/local/login", json={"username": "alice"})
    alice = forwarded_identity(first, stand_in)
    assert alice == forwarded_identity(second, stand_in) == str(uuid.uuid5(USER_NAMESPACE, "alice"))
    second.post("/local/login", json={"username": "bob"})
    assert forwarded_identity(second, stand_in) == user_id_for("bob") != alice


def test_user_ids_are_stable_forever():
    """Changing the namespace would orphan every local user's conversations."""
    assert user_id_for("alice") == str(uuid.uuid5(uuid.UUID("6f1d3c2e-8a4b-5e7f-9c0d-1a2b3c4d5e6f"), "alice"))


def test_a_tampered_cookie_signs_no_one_in(client, login, stand_in):
    login("alice")
    cookie = client.get_cookie("rolechat_session")
    value = cookie.value
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    client.set_cookie("rolechat_session", forged)
    assert forwarded_identity(client, stand_in) is None


def test_a_cookie_from_another_secret_signs_no_one_in(make_app, stand_in):
    other = make_app(session_secret="another-session-secret-0123456789abcdef").test_client()
    other.post("/local/login", json={"username": "alice"})
    value = other.get_cookie("rolechat_session").value
    client = make_app().test_client()
    client.set_cookie("rolechat_session", value)
    assert forwarded_identity(client, stand_in) is None


def test_session_survives_a_restart(make_app, stand_in):
    before = make_app().test_client()
    before.post("/local/login", json={"username": "carol"})
    value = before.get_cookie("rolechat_session").value
    after = make_app().test_client()  # same secret and data directory
    after.set_cookie("rolechat_session", value)
    assert forwarded_identity(after, stand_in) == user_id_for("carol")


def test_only_sign_in_sets_the_cookie_so_sign_out_is_final(client, login, stand_in):
    """A request that was already on its way when the user signed out must not re-set the session."""
    login("alice")
    in_flight = client.get("/api/conversations")
    assert in_flight.status_code == 200
    assert "rolechat_session" not in in_flight.headers.get("Set-Cookie", "")
    assert client.get("/config.json").headers.get("Set-Cookie") is None
