"""Roles with their pins, registered models and usage counters in memory, each user's own."""
from __future__ import annotations

from rolechat_common import identity


def test_roles_and_role_pins_are_per_user(client, alice, bob):
    role = client.post("/api/roles", json={"name": "Teacher", "instructions": "Teach.", "temperature": 0.5},
                       headers=alice)
    assert role.status_code == 201
    rid = role.get_json()["id"]
    assert client.get(f"/api/roles/{rid}", headers=bob).status_code == 404
    assert client.post(f"/api/roles/{rid}/pins", json={"text": "x"}, headers=bob).status_code == 404
    pin = client.post(f"/api/roles/{rid}/pins", json={"text": "Remember this."}, headers=alice).get_json()
    got = client.get(f"/api/roles/{rid}", headers=alice).get_json()
    assert got["temperature"] == 0.5 and [p["text"] for p in got["pins"]] == ["Remember this."]
    assert client.delete(f"/api/roles/{rid}/pins/{pin['id']}", headers=bob).status_code == 404
    assert client.delete(f"/api/roles/{rid}/pins/{pin['id']}", headers=alice).status_code == 204
    assert client.patch(f"/api/roles/{rid}", json={"temperature": 7}, headers=alice).status_code == 400
    assert client.delete(f"/api/roles/{rid}", headers=bob).status_code == 404
    assert client.delete(f"/api/roles/{rid}", headers=alice).status_code == 204
    assert client.get("/api/roles", headers=alice).get_json() == {"roles": []}


def test_conversation_and_message_keep_the_role(client, alice):
    cid = client.post("/api/conversations", json={"role_id": "preset-assistant"}, headers=alice).get_json()["id"]
    message = client.post(f"/api/conversations/{cid}/messages", headers=alice,
                          json={"role": "assistant", "content": "hi", "role_id": "preset-assistant"}).get_json()
    assert message["role_id"] == "preset-assistant"
    assert client.get(f"/api/conversations/{cid}", headers=alice).get_json()["role_id"] == "preset-assistant"


def test_registered_models_sharing_needs_an_admin(client, alice, bob, secret):
    ft = "ft:gpt-4o-mini:acme:x:1"
    assert client.post("/api/registered-models", json={"id": ft}, headers=alice).status_code == 201
    assert client.get(f"/api/registered-models/{ft}", headers=bob).status_code == 404
    assert client.patch(f"/api/registered-models/{ft}", json={"shared": True}, headers=alice).status_code == 403
    admin = {identity.IDENTITY_HEADER: identity.mint(identity.Identity("alice-id", "alice", ("admins",)), secret,
                                                     identity.ISSUER_AUTH_PROXY)}
    assert client.patch(f"/api/registered-models/{ft}", json={"shared": True}, headers=admin).get_json()["shared"]
    assert [m["id"] for m in client.get("/api/registered-models", headers=bob).get_json()["models"]] == [ft]
    client.patch(f"/api/registered-models/{ft}", json={"shared": False}, headers=admin)
    assert client.get("/api/registered-models", headers=bob).get_json()["models"] == []


def test_usage_totals_per_day_and_model(client, alice, bob):
    for model, prompt, completion, cost in (("a", 10, 5, 0.5), ("a", 1, 1, None), ("b", 2, 3, 0.25)):
        assert client.post("/api/usage", json={"model": model, "prompt_tokens": prompt, "completion_tokens": completion,
                                               "cost_usd": cost}, headers=alice).status_code == 204
    usage = client.get("/api/usage", headers=alice).get_json()
    assert usage["total"] == {"prompt_tokens": 13, "completion_tokens": 9, "turns": 3, "cost_usd": 0.75}
    assert [(m["model"], m["turns"]) for m in usage["models"]] == [("a", 2), ("b", 1)]
    assert len(usage["days"]) == 1 and usage["days"][0]["turns"] == 3
    assert client.get("/api/usage", headers=bob).get_json()["total"]["turns"] == 0
    assert client.get("/api/usage?days=0", headers=alice).status_code == 400
    assert client.post("/api/usage", json={"model": "a", "prompt_tokens": -1, "completion_tokens": 0},
                       headers=alice).status_code == 400
