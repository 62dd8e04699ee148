"""Creating and changing conversations through chat: validation here, storage in memory."""
from __future__ import annotations

import re


def test_create_fills_the_default_model_and_stores_the_role(client, who, user_id, upstream, memory):
    response = client.post("/api/conversations", json={"instructions": "You are a programming teacher."},
                           headers=who)
    assert response.status_code == 201
    conversation = response.get_json()
    assert re.fullmatch(r"c_[A-Za-z0-9_-]{22}", conversation["id"])
    assert conversation["model"] == "gpt-4o-mini"
    assert conversation["instructions"] == "You are a programming teacher."
    assert conversation["messages"] == []
    stored = memory.conversation(user_id, conversation["id"])
    assert (stored["model"], stored["instructions"]) == ("gpt-4o-mini", "You are a programming teacher.")


def test_create_without_a_body_and_with_a_chosen_model_and_title(client, who, upstream):
    assert client.post("/api/conversations", headers=who).status_code == 201
    response = client.post("/api/conversations", json={"model": "gpt-4o", "title": "Shop support"}, headers=who)
    assert response.status_code == 201
    assert (response.get_json()["model"], response.get_json()["title"]) == ("gpt-4o", "Shop support")


def test_fine_tuned_model_ids_are_accepted(client, who, upstream):
    model = "ft:gpt-4o-mini-2024-07-18:acme:support:Ab12Cd34"
    response = client.post("/api/conversations", json={"model": model}, headers=who)
    assert response.status_code == 201 and response.get_json()["model"] == model


def test_create_rejects_bad_fields_before_storing(client, who, user_id, upstream):
    cases = [
        ({"model": "gpt-9-imaginary"}, 400, "unknown_model"),
        ({"model": 7}, 400, "invalid_field"),
        ({"instructions": "x" * 101}, 413, "too_long"),
        ({"instructions": ["x"]}, 400, "invalid_field"),
        ({"title": "t" * 201}, 413, "too_long"),
        ({"title": False}, 400, "invalid_field"),
    ]
    for body, status, code in cases:
        response = client.post("/api/conversations", json=body, headers=who)
        assert response.status_code == status, body
        assert response.get_json()["error"]["code"] == code, body
    response = client.post("/api/conversations", data="[1]", content_type="application/json", headers=who)
    assert response.status_code == 400
    response = client.post("/api/conversations", data="hi", content_type="text/plain", headers=who)
    assert response.status_code == 415


def test_patch_changes_role_model_and_title(client, who, user_id, upstream, memory, new_conversation):
    cid = new_conversation(instructions="old role")["id"]
    response = client.patch(f"/api/conversations/{cid}",
                            json={"instructions": "new role", "model": "gpt-4o", "title": "Renamed"}, headers=who)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["instructions"], body["model"], body["title"]) == ("new role", "gpt-4o", "Renamed")
    stored = memory.conversation(user_id, cid)
    assert (stored["instructions"], stored["model"], stored["title"]) == ("new role", "gpt-4o", "Renamed")
    # A PATCH without a model keeps the model; empty instructions clear the role.
    response = client.patch(f"/api/conversations/{cid}", json={"instructions": ""}, headers=who)
    assert (response.get_json()["instructions"], response.get_json()["model"]) == ("", "gpt-4o")


def test_patch_rejects_bad_fields(client, who, upstream, new_conversation):
    cid = new_conversation()["id"]
    for body, status, code in [({"model": "nope"}, 400, "unknown_model"),
                               ({"instructions": "x" * 101}, 413, "too_long"),
                               ({"title": "t" * 201}, 413, "too_long")]:
        response = client.patch(f"/api/conversations/{cid}", json=body, headers=who)
        assert response.status_code == status and response.get_json()["error"]["code"] == code, body
    response = client.patch(f"/api/conversations/{cid}", headers=who)
    assert response.status_code == 415


def test_patch_of_a_missing_or_foreign_conversation_is_404(client, who, upstream, new_conversation, headers_for):
    cid = new_conversation()["id"]
    for path, headers in ((f"/api/conversations/{cid}", headers_for("intruder")),
                          ("/api/conversations/c_AAAAAAAAAAAAAAAAAAAAAA", who),
                          ("/api/conversations/..%2F..%2Fhealthz", who)):
        response = client.patch(path, json={"title": "mine now"}, headers=headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"


def test_memory_errors_pass_through_unchanged(make_app, who, upstream, redis_server, tmp_path):
    """Memory's own errors (here its conversation cap) reach the caller with memory's status and JSON."""
    from tests.support.processes import TEST_SECRET, Service

    small = Service("memory-small", "memory:create_app()", {
        "REDIS_URL": redis_server.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET,
        "MAX_CONVERSATIONS_PER_USER": "1"}, tmp_path).start()
    try:
        app = make_app(memory_url=small.url)
        client = app.test_client()
        assert client.post("/api/conversations", json={}, headers=who).status_code == 201
        response = client.post("/api/conversations", json={}, headers=who)
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["code"] == "limit_reached" and "at most 1 conversations" in error["message"]
        app.extensions["chat.memory"].http.clear()
    finally:
        small.stop()


def test_request_id_is_kept(client, who, upstream):
    response = client.post("/api/conversations", json={}, headers={**who, "X-Request-Id": "req-abcdef123456"})
    assert response.headers["X-Request-Id"] == "req-abcdef123456"
