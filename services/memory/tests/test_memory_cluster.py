"""Memory against Redis in cluster mode (as MemoryDB runs): a one-node cluster owning every slot."""

import pytest

from memory import create_app


def test_conversations_pins_roles_and_usage_work_on_a_cluster(cluster_url, config, headers_for):
    from dataclasses import replace

    client = create_app(replace(config, redis_url=cluster_url, redis_cluster=True)).test_client()
    alice = headers_for("alice-cluster")
    cid = client.post("/api/conversations", json={"instructions": "be kind"}, headers=alice).get_json()["id"]
    message = client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": "hello"},
                          headers=alice)
    assert message.status_code == 201
    pin = client.post(f"/api/conversations/{cid}/pins", json={"text": "a note"}, headers=alice)
    assert pin.status_code == 201, pin.get_json()
    role = client.post("/api/roles", json={"name": "Tutor", "instructions": "Teach."}, headers=alice)
    assert role.status_code == 201, role.get_json()
    usage = client.post("/api/usage", json={"model": "m", "prompt_tokens": 3, "completion_tokens": 4},
                        headers=alice)
    assert usage.status_code in (200, 201, 204), usage.get_data(as_text=True)
    stored = client.get(f"/api/conversations/{cid}", headers=alice).get_json()
    assert [m["content"] for m in stored["messages"]] == ["hello"]
    assert [c["id"] for c in client.get("/api/conversations", headers=alice).get_json()["conversations"]] == [cid]
    assert client.delete(f"/api/conversations/{cid}", headers=alice).status_code == 204
    assert client.get("/api/conversations", headers=alice).get_json() == {"conversations": []}


def test_cutting_a_conversation_works_on_a_cluster(cluster_url, config, headers_for):
    """The cut is one Lua script over keys that share the user's hash tag: one slot, one node."""
    from dataclasses import replace

    client = create_app(replace(config, redis_url=cluster_url, redis_cluster=True)).test_client()
    alice = headers_for("alice-cluster-cut")
    cid = client.post("/api/conversations", json={}, headers=alice).get_json()["id"]
    ids = [client.post(f"/api/conversations/{cid}/messages", json={"role": role, "content": text},
                       headers=alice).get_json()["id"]
           for role, text in (("user", "q0"), ("assistant", "a0"), ("user", "q1"), ("assistant", "a1"))]
    assert client.put(f"/api/conversations/{cid}/summary", json={"text": "s", "upto": 3},
                      headers=alice).status_code == 200
    source = client.get(f"/api/conversations/{cid}/context-source?replacing={ids[2]}", headers=alice).get_json()
    assert source["total"] == 2 and source["summary"] is None
    url = f"/api/conversations/{cid}/messages"
    response = client.post(url, json={"role": "user", "content": "q1 edited", "replaces": ids[2]}, headers=alice)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["replaced"] == {"index": 2, "removed": 2, "summary_dropped": True}
    assert client.post(url, json={"role": "user", "content": "x", "replaces": ids[1]},
                       headers=alice).get_json()["error"]["code"] == "message_not_found"
    stored = client.get(f"/api/conversations/{cid}", headers=alice).get_json()
    assert [m["content"] for m in stored["messages"]] == ["q0", "a0", "q1 edited"]
