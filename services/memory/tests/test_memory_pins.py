"""Pins, pages of messages, the summary, the context breakdown, search and export in memory."""
from __future__ import annotations

from tests.support.memory_api import create, post


def test_message_excerpt_and_note_pins(client, alice):
    cid = create(client, alice)
    message = post(client, alice, cid, "user", "The tea ships on Monday.")
    url = f"/api/conversations/{cid}/pins"
    whole = client.post(url, json={"message_id": message["id"]}, headers=alice)
    part = client.post(url, json={"message_id": message["id"], "text": "ships on Monday"}, headers=alice)
    note = client.post(url, json={"text": "Returns within 30 days."}, headers=alice)
    assert [r.status_code for r in (whole, part, note)] == [201, 201, 201]
    assert whole.get_json()["text"] == "The tea ships on Monday."
    assert client.post(url, json={"message_id": message["id"], "text": "Tuesday"}, headers=alice).status_code == 400
    assert client.post(url, json={"message_id": "m_" + "A" * 22}, headers=alice).status_code == 404
    pins = client.get(url, headers=alice).get_json()["pins"]
    assert [p["text"] for p in pins] == ["The tea ships on Monday.", "ships on Monday", "Returns within 30 days."]
    assert client.delete(f"{url}/{pins[1]['id']}", headers=alice).status_code == 204
    assert len(client.get(url, headers=alice).get_json()["pins"]) == 2


def test_other_users_pins_and_context_are_404(client, alice, bob):
    cid = create(client, alice)
    pin = client.post(f"/api/conversations/{cid}/pins", json={"text": "secret"}, headers=alice).get_json()
    for response in (client.get(f"/api/conversations/{cid}/pins", headers=bob),
                     client.post(f"/api/conversations/{cid}/pins", json={"text": "x"}, headers=bob),
                     client.delete(f"/api/conversations/{cid}/pins/{pin['id']}", headers=bob),
                     client.get(f"/api/conversations/{cid}/context", headers=bob),
                     client.get(f"/api/conversations/{cid}/context-source", headers=bob),
                     client.get(f"/api/conversations/{cid}/export", headers=bob)):
        assert response.status_code == 404
        assert "secret" not in response.get_data(as_text=True)


def test_pages_from_the_end_and_context_source(client, alice):
    cid = create(client, alice, instructions="role")
    for i in range(6):
        post(client, alice, cid, "user", f"m{i}")
    source = client.get(f"/api/conversations/{cid}/context-source?limit=2", headers=alice).get_json()
    assert (source["total"], source["start"]) == (6, 4)
    assert [m["content"] for m in source["messages"]] == ["m4", "m5"] and source["instructions"] == "role"
    page = client.get(f"/api/conversations/{cid}/messages?before=4&limit=3", headers=alice).get_json()
    assert page["start"] == 1 and [m["content"] for m in page["messages"]] == ["m1", "m2", "m3"]
    assert client.get(f"/api/conversations/{cid}/messages?before=x", headers=alice).status_code == 400
    assert client.get(f"/api/conversations/{cid}/context-source?limit=0", headers=alice).status_code == 400


def test_the_context_source_is_read_in_one_round_trip(client, alice, redis_url):
    import redis

    empty = create(client, alice)
    source = client.get(f"/api/conversations/{empty}/context-source?limit=5", headers=alice).get_json()
    assert (source["total"], source["start"], source["messages"], source["pins"], source["summary"]) == (0, 0, [], [],
                                                                                                     None)
    cid = create(client, alice, instructions="role")
    for i in range(3):
        post(client, alice, cid, "user", f"m{i}")
    first = client.post(f"/api/conversations/{cid}/pins", json={"text": "first pin"}, headers=alice).get_json()
    second = client.post(f"/api/conversations/{cid}/pins", json={"text": "second pin"}, headers=alice).get_json()
    client.put(f"/api/conversations/{cid}/summary", json={"text": "so far", "upto": 1}, headers=alice)
    store = redis.Redis.from_url(redis_url)
    store.config_resetstat()
    source = client.get(f"/api/conversations/{cid}/context-source?limit=2", headers=alice).get_json()
    calls = {name: stats["calls"] for name, stats in store.info("commandstats").items()}
    assert calls.get("cmdstat_evalsha", 0) == 1 and "cmdstat_multi" not in calls, calls
    assert (source["total"], source["start"], source["instructions"]) == (3, 1, "role")
    assert [m["content"] for m in source["messages"]] == ["m1", "m2"]
    assert [p["id"] for p in source["pins"]] == [first["id"], second["id"]]
    assert source["summary"]["text"] == "so far" and source["summary"]["upto"] == 1


def test_summary_only_moves_forward_and_context_is_kept(client, alice):
    cid = create(client, alice)
    url = f"/api/conversations/{cid}/summary"
    assert client.put(url, json={"text": "s1", "upto": 4}, headers=alice).get_json()["stored"] is True
    assert client.put(url, json={"text": "old", "upto": 2}, headers=alice).get_json()["stored"] is False
    assert client.put(url, json={"text": "s1", "upto": -1}, headers=alice).status_code == 400
    post(client, alice, cid, "assistant", "hi", context={"window": 100, "used": 10})
    context = client.get(f"/api/conversations/{cid}/context", headers=alice).get_json()
    assert context["window"] == 100 and context["summary_text"] == "s1" and context["summarized_messages"] == 4
    bad = client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": "x", "context": {}},
                      headers=alice)
    assert bad.status_code == 400


def test_search_and_export(client, alice):
    cid = create(client, alice, title="Garden")
    post(client, alice, cid, "user", "Tomatoes need sun")
    other = create(client, alice)
    post(client, alice, other, "user", "violins")
    found = client.get("/api/conversations?q=TOMATO", headers=alice).get_json()["conversations"]
    assert [c["id"] for c in found] == [cid] and found[0]["match"]["in"] == "message"
    assert client.get("/api/conversations?q=garden", headers=alice).get_json()["conversations"][0]["id"] == cid
    assert client.get("/api/conversations?q=", headers=alice).status_code == 400
    md = client.get(f"/api/conversations/{cid}/export?format=md", headers=alice)
    assert md.mimetype == "text/markdown" and "Tomatoes need sun" in md.get_data(as_text=True)
    assert 'filename="Garden.md"' in md.headers["Content-Disposition"]
    data = client.get(f"/api/conversations/{cid}/export?format=json", headers=alice).get_json()
    assert data["messages"][0]["content"] == "Tomatoes need sun" and data["pins"] == []
    assert client.get(f"/api/conversations/{cid}/export?format=doc", headers=alice).status_code == 400
