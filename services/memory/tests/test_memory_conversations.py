import re

import pytest

from rolechat_common import identity
from memory.config import Config
from rolechat_common.config import ConfigError



def create(client, who, **fields):
    response = client.post("/api/conversations", json=fields, headers=who)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_get_list_newest_first(client, alice):
    first = create(client, alice, instructions="You are a programming teacher", model="m1")
    second = create(client, alice)
    assert re.fullmatch(r"c_[A-Za-z0-9_-]{22}", first["id"])
    assert first["instructions"] == "You are a programming teacher" and first["model"] == "m1"
    assert first["messages"] == []
    listed = client.get("/api/conversations", headers=alice).get_json()["conversations"]
    assert [c["id"] for c in listed] == [second["id"], first["id"]]
    client.post(f"/api/conversations/{first['id']}/messages", json={"role": "user", "content": "hi"}, headers=alice)
    listed = client.get("/api/conversations", headers=alice).get_json()["conversations"]
    assert [c["id"] for c in listed] == [first["id"], second["id"]], "activity moves a conversation to the top"


def test_messages_keep_order_author_status_and_auto_title(client, alice):
    cid = create(client, alice)["id"]
    user = client.post(f"/api/conversations/{cid}/messages",
                       json={"role": "user", "content": "How do   I write a loop?"}, headers=alice)
    answer = client.post(f"/api/conversations/{cid}/messages",
                         json={"role": "assistant", "content": "Use for.", "model": "m1", "status": "interrupted"},
                         headers=alice)
    assert user.status_code == 201 and answer.status_code == 201
    conversation = client.get(f"/api/conversations/{cid}", headers=alice).get_json()
    assert [(m["role"], m["content"], m["status"]) for m in conversation["messages"]] == [
        ("user", "How do   I write a loop?", "complete"), ("assistant", "Use for.", "interrupted")]
    assert conversation["messages"][1]["model"] == "m1"
    assert conversation["title"] == "How do I write a loop?"
    assert conversation["messages"][0]["created_at"].endswith("Z")
    last = client.get(f"/api/conversations/{cid}?last=1", headers=alice).get_json()
    assert [m["content"] for m in last["messages"]] == ["Use for."]


def test_patch_changes_role_and_delete_removes(client, alice):
    cid = create(client, alice, instructions="old")["id"]
    patched = client.patch(f"/api/conversations/{cid}", json={"instructions": "new", "title": "T"}, headers=alice)
    assert patched.status_code == 200
    assert patched.get_json()["instructions"] == "new" and patched.get_json()["title"] == "T"
    assert client.delete(f"/api/conversations/{cid}", headers=alice).status_code == 204
    assert client.get(f"/api/conversations/{cid}", headers=alice).status_code == 404
    assert client.delete(f"/api/conversations/{cid}", headers=alice).status_code == 404


def test_other_users_conversation_is_not_found_and_untouched(client, alice, bob):
    cid = create(client, alice, instructions="secret role")["id"]
    client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": "private"}, headers=alice)
    for method, kwargs in [("get", {}), ("delete", {}), ("patch", {"json": {"title": "x"}}),
                           ("post", {"json": {"role": "user", "content": "x"}})]:
        path = f"/api/conversations/{cid}" + ("/messages" if method == "post" else "")
        response = getattr(client, method)(path, headers=bob, **kwargs)
        assert response.status_code == 404, (method, response.get_json())
        assert "secret" not in response.get_data(as_text=True)
    assert client.get("/api/conversations", headers=bob).get_json() == {"conversations": []}
    kept = client.get(f"/api/conversations/{cid}", headers=alice).get_json()
    assert kept["instructions"] == "secret role" and len(kept["messages"]) == 1


@pytest.mark.parametrize("secret_kind,issuer,ttl", [
    (None, None, None),
    ("garbage", None, None),
    ("wrong", "auth-proxy", 60),
    ("right", "somebody-else", 60),
    ("right", "auth-proxy", -60),
])
def test_requests_without_a_valid_internal_identity_are_refused(client, secret, secret_kind, issuer, ttl):
    eve = identity.Identity("eve", "eve")
    headers = {
        None: {},
        "garbage": {identity.IDENTITY_HEADER: "not-a-token"},
        "wrong": {identity.IDENTITY_HEADER: identity.mint(eve, "x" * 40, issuer or "", ttl=ttl or 60)},
        "right": {identity.IDENTITY_HEADER: identity.mint(eve, secret, issuer or "", ttl=ttl or 60)},
    }[secret_kind]
    response = client.get("/api/conversations", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_chat_may_call_memory_with_its_own_minted_identity(client, headers_for):
    assert client.get("/api/conversations", headers=headers_for("u1", identity.ISSUER_CHAT)).status_code == 200


@pytest.mark.parametrize("body,status,code", [
    ({"role": "system", "content": "x"}, 400, "invalid_field"),
    ({"role": "user", "content": 5}, 400, "invalid_field"),
    ({"role": "user"}, 400, "missing_field"),
    ({"role": "user", "content": "   "}, 400, "invalid_field"),
    ({"role": "user", "content": "x" * 1001}, 413, "too_long"),
    ({"role": "assistant", "content": "x", "status": "streaming"}, 400, "invalid_field"),
])
def test_bad_messages_are_refused_with_a_clear_4xx(client, alice, body, status, code):
    cid = create(client, alice)["id"]
    response = client.post(f"/api/conversations/{cid}/messages", json=body, headers=alice)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_bad_bodies_and_ids(client, alice):
    assert client.post("/api/conversations", data="{", content_type="application/json", headers=alice).status_code == 400
    assert client.post("/api/conversations", json=[1], headers=alice).status_code == 400
    assert client.post("/api/conversations", json={"instructions": "x" * 101}, headers=alice).status_code == 413
    assert client.post("/api/conversations", data="x" * 5000, content_type="application/json",
                       headers=alice).status_code == 413
    assert client.patch("/api/conversations/c_123", json={}, headers=alice).status_code == 404
    assert client.get("/api/conversations/../../etc", headers=alice).status_code == 404
    cid = create(client, alice)["id"]
    assert client.get(f"/api/conversations/{cid}?last=0", headers=alice).status_code == 400
    assert client.patch(f"/api/conversations/{cid}", data="x", content_type="text/plain",
                        headers=alice).status_code == 415


def test_limits_on_conversation_and_message_counts(client, alice):
    ids = [create(client, alice)["id"] for _ in range(5)]
    response = client.post("/api/conversations", json={}, headers=alice)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "limit_reached"
    for i in range(6):
        client.post(f"/api/conversations/{ids[0]}/messages", json={"role": "user", "content": str(i)}, headers=alice)
    response = client.post(f"/api/conversations/{ids[0]}/messages", json={"role": "user", "content": "7"},
                           headers=alice)
    assert response.status_code == 400 and "at most 6 messages" in response.get_json()["error"]["message"]


def test_config_names_the_bad_variable():
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Config.from_env({"INTERNAL_IDENTITY_SECRET": "x" * 40})
    with pytest.raises(ConfigError, match="INTERNAL_IDENTITY_SECRET"):
        Config.from_env({"REDIS_URL": "redis://localhost:1", "INTERNAL_IDENTITY_SECRET": "short"})
    with pytest.raises(ConfigError, match="MAX_CONVERSATIONS_PER_USER"):
        Config.from_env({"REDIS_URL": "redis://localhost:1", "INTERNAL_IDENTITY_SECRET": "x" * 40,
                         "MAX_CONVERSATIONS_PER_USER": "many"})


def test_health_and_readiness(client, alice):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json()["status"] == "ready"
