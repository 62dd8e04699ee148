"""Callers without a Cognito session: a bot page's visitors (signed cookie) and API keys (checked
by memory; here the stand-in memory never hears of a malformed one)."""
from __future__ import annotations

from rolechat_common import identity

SLUG = "tea-shop"


def visitor_of(forwarded: dict, secret: str) -> identity.Identity:
    return identity.verify(forwarded["headers"][identity.IDENTITY_HEADER], secret, (identity.ISSUER_AUTH_PROXY,))


def test_a_first_visit_gets_a_visitor_cookie_and_keeps_that_identity(client, memory, kit):
    first = client.get(f"/api/public/bots/{SLUG}")
    assert first.status_code == 200
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("rolechat_visitor=v_")
    for attribute in ("HttpOnly", "Path=/api/public/", "SameSite=Lax", "Max-Age="):
        assert attribute in cookie
    who = visitor_of(memory.received[-1], kit.SECRET)
    assert who.user_id.startswith("v_") and who.groups == ("visitor",)

    again = client.get(f"/api/public/bots/{SLUG}")  # the test client sends the cookie back
    assert "Set-Cookie" not in again.headers
    assert visitor_of(memory.received[-1], kit.SECRET).user_id == who.user_id


def test_a_forged_visitor_cookie_is_a_new_visitor(client, memory, kit):
    client.set_cookie("rolechat_visitor", "v_" + "A" * 22 + ".forged-signature")
    response = client.get(f"/api/public/bots/{SLUG}")
    assert response.headers["Set-Cookie"].startswith("rolechat_visitor=v_")
    assert visitor_of(memory.received[-1], kit.SECRET).user_id != "v_" + "A" * 22


def test_over_https_the_cookie_can_live_in_an_embedded_page(client):
    cookie = client.get(f"/api/public/bots/{SLUG}", headers={"X-Forwarded-Proto": "https"}).headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie


def test_a_visitor_reaches_only_the_public_routes(client, chat, memory):
    client.get(f"/api/public/bots/{SLUG}")
    memory.received.clear()
    assert client.get("/api/conversations").status_code == 401
    assert client.get(f"/api/bots/{SLUG}").status_code == 401
    assert memory.received == [] and chat.received == []


def test_malformed_or_missing_keys_get_openai_shaped_401_without_asking_memory(client, chat, memory):
    for headers in ({}, {"Authorization": "Bearer sk-something"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer rck_short"}):
        response = client.post("/v1/chat/completions", json={"model": SLUG, "messages": []}, headers=headers)
        assert response.status_code == 401
        assert response.json["error"] == {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                          "param": None, "code": "invalid_api_key"}
    assert memory.received == [] and chat.received == []


def test_unknown_v1_paths_and_methods_answer_in_openais_shape(client):
    missing = client.get("/v1/embeddings")
    assert missing.status_code == 404 and missing.json["error"]["type"] == "invalid_request_error"
    wrong_method = client.get("/v1/chat/completions")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert set(wrong_method.json["error"]) == {"message", "type", "param", "code"}


def test_a_visitor_cookie_with_non_ascii_characters_is_a_new_visitor_not_an_error(client, memory, kit):
    response = client.get(f"/api/public/bots/{SLUG}", headers={"Cookie": "rolechat_visitor=v_" + "A" * 22 + ".é"})
    assert response.status_code == 200
    assert visitor_of(memory.received[-1], kit.SECRET).user_id != "v_" + "A" * 22
