"""Published bots in memory: the owner's bots and keys, visitors' conversations, transcripts, usage."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace

import pytest
import redis

from memory import create_app
from rolechat_common import identity


@pytest.fixture
def mint(secret):
    def make(user_id: str, groups: tuple[str, ...] = (), issuer: str = identity.ISSUER_AUTH_PROXY,
             username: str | None = None) -> dict:
        who = identity.Identity(user_id, username or user_id, groups)
        return {identity.IDENTITY_HEADER: identity.mint(who, secret, issuer)}
    return make


def visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(16)


@pytest.fixture
def auth_proxy(mint):
    return mint("auth-proxy", ("service",), identity.ISSUER_AUTH_PROXY, "auth-proxy")


@pytest.fixture
def role(client, alice):
    def make(headers=None, name="Tea shop", instructions="You are the support agent of Sencha & Co.", **more):
        response = client.post("/api/roles", json={"name": name, "instructions": instructions, **more},
                               headers=headers or alice)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]
    return make


@pytest.fixture
def bot(client, alice, role):
    def make(slug="tea-shop", headers=None, **fields):
        rid = fields.pop("role_id", None) or role(headers or alice)
        response = client.post("/api/bots", json={"role_id": rid, "slug": slug, **fields}, headers=headers or alice)
        assert response.status_code == 201, response.get_json()
        return response.get_json()
    return make


def new_key(client, headers, slug="tea-shop", **body) -> dict:
    response = client.post(f"/api/bots/{slug}/keys", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def everything_in(client: redis.Redis, name: str) -> str:
    """A key's whole value as text, whatever its type."""
    kind = client.type(name)
    read = {"string": client.get, "hash": client.hgetall, "list": lambda n: client.lrange(n, 0, -1),
            "set": client.smembers, "zset": lambda n: client.zrange(n, 0, -1, withscores=True)}[kind]
    return str(read(name))


def api_key_caller(mint, key_id: str, issuer: str = identity.ISSUER_CHAT) -> dict:
    return mint(key_id, ("api-key",), issuer, "api-key")


def test_owner_creates_lists_updates_and_deletes_a_bot(client, alice, bob, role, bot):
    created = bot(greeting="Welcome to Sencha & Co.", suggestions=["Opening hours?", "Do you ship abroad?"],
                  daily_token_budget=5000)
    assert created["slug"] == "tea-shop" and created["name"] == "Tea shop" and created["published"] is True
    assert created["suggestions"] == ["Opening hours?", "Do you ship abroad?"]
    assert created["daily_token_budget"] == 5000 and created["created_at"].endswith("Z")
    assert [b["slug"] for b in client.get("/api/bots", headers=alice).get_json()["bots"]] == ["tea-shop"]
    assert client.get("/api/bots", headers=bob).get_json() == {"bots": []}

    public = client.get("/api/public/bots/tea-shop", headers=bob).get_json()
    assert public == {"slug": "tea-shop", "name": "Tea shop", "greeting": "Welcome to Sencha & Co.",
                      "suggestions": ["Opening hours?", "Do you ship abroad?"]}

    changed = client.patch("/api/bots/tea-shop", json={"greeting": "Hello!", "suggestions": [],
                                                        "daily_token_budget": None, "published": False},
                           headers=alice)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["published"] is False and changed.get_json()["daily_token_budget"] is None
    assert client.get("/api/public/bots/tea-shop", headers=bob).status_code == 404
    assert client.patch("/api/bots/tea-shop", json={"published": True}, headers=alice).status_code == 200
    assert client.get("/api/public/bots/tea-shop", headers=bob).get_json()["greeting"] == "Hello!"

    other = role(alice, name="Translator")
    assert client.patch("/api/bots/tea-shop", json={"role_id": other}, headers=alice).get_json()["name"] == "Translator"

    assert client.delete("/api/bots/tea-shop", headers=alice).status_code == 204
    assert client.get("/api/bots/tea-shop", headers=alice).status_code == 404
    assert client.get("/api/public/bots/tea-shop", headers=bob).status_code == 404
    # the slug is free again, for anyone
    bot(headers=bob)
    assert client.get("/api/public/bots/tea-shop", headers=alice).status_code == 200


def test_bad_bot_input_is_refused_with_a_clear_error(client, alice, bob, role, bot):
    rid = role(alice)
    cases = [
        ({"role_id": rid, "slug": "A-Shop"}, 400, "invalid_slug"),
        ({"role_id": rid, "slug": "-shop"}, 400, "invalid_slug"),
        ({"role_id": rid, "slug": "ab"}, 400, "invalid_slug"),
        ({"role_id": rid, "slug": "x" * 41}, 413, "too_long"),
        ({"role_id": rid, "slug": "admin"}, 400, "invalid_slug"),
        ({"role_id": rid, "slug": "login"}, 400, "invalid_slug"),
        ({"role_id": rid, "slug": "shop", "suggestions": ["a", "b", "c", "d", "e"]}, 400, "invalid_field"),
        ({"role_id": rid, "slug": "shop", "suggestions": ["x" * 201]}, 413, "too_long"),
        ({"role_id": rid, "slug": "shop", "greeting": "x" * 501}, 413, "too_long"),
        ({"role_id": rid, "slug": "shop", "daily_token_budget": 0}, 400, "invalid_field"),
        ({"role_id": rid, "slug": "shop", "daily_token_budget": True}, 400, "invalid_field"),
        ({"role_id": rid, "slug": "shop", "colour": "red"}, 400, "invalid_field"),
        ({"slug": "shop"}, 400, "missing_field"),
        ({"role_id": role(bob), "slug": "shop"}, 404, "role_not_found"),
        ({"role_id": "preset-assistant", "slug": "shop"}, 404, "role_not_found"),
    ]
    for body, status, code in cases:
        response = client.post("/api/bots", json=body, headers=alice)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body
    assert client.get("/api/bots", headers=alice).get_json() == {"bots": []}
    bot("shop", role_id=rid)
    assert client.patch("/api/bots/shop", json={"slug": "other"}, headers=alice).status_code == 400
    assert client.patch("/api/bots/shop", json={"published": "yes"}, headers=alice).status_code == 400


def test_a_taken_slug_is_409_and_another_owners_bot_is_404(client, alice, bob, role, bot, mint):
    bot()
    taken = client.post("/api/bots", json={"role_id": role(bob), "slug": "tea-shop"}, headers=bob)
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "slug_taken"
    again = client.post("/api/bots", json={"role_id": role(alice), "slug": "tea-shop"}, headers=alice)
    assert again.status_code == 409
    for method, path in [("get", "/api/bots/tea-shop"), ("patch", "/api/bots/tea-shop"),
                         ("delete", "/api/bots/tea-shop"), ("post", "/api/bots/tea-shop/keys"),
                         ("get", "/api/bots/tea-shop/keys"), ("get", "/api/bots/tea-shop/usage"),
                         ("get", "/api/bots/tea-shop/conversations")]:
        response = getattr(client, method)(path, json={"greeting": "mine now"} if method == "patch" else {},
                                           headers=bob)
        assert response.status_code == 404, (method, path)
        assert "tea" not in response.get_data(as_text=True).lower()
    assert client.get("/api/bots/tea-shop", headers=alice).get_json()["greeting"] == ""

    visitor = mint(visitor_id(), ("visitor",))
    key = mint("k_" + secrets.token_urlsafe(16), ("api-key",))
    service = mint("auth-proxy", ("service",))
    for who in (visitor, key, service):
        assert client.get("/api/bots", headers=who).status_code == 403
        refused = client.post("/api/bots", json={"role_id": "r_" + "a" * 22, "slug": "mine"}, headers=who)
        assert refused.status_code == 403
        assert client.delete("/api/bots/tea-shop", headers=who).status_code == 403
    assert client.get("/api/bots/tea-shop", headers=alice).status_code == 200


def test_bots_per_owner_are_limited(client, alice, role, config):
    app = create_app(replace(config, max_bots_per_user=2)).test_client()
    rid = role(alice)
    for slug in ("one-bot", "two-bot"):
        assert app.post("/api/bots", json={"role_id": rid, "slug": slug}, headers=alice).status_code == 201
    over = app.post("/api/bots", json={"role_id": rid, "slug": "three-bot"}, headers=alice)
    assert over.status_code == 400 and over.get_json()["error"]["code"] == "limit_reached"
    assert client.get("/api/public/bots/three-bot", headers=alice).status_code == 404  # the slug was not claimed


def test_a_key_is_shown_once_and_only_its_hash_is_stored(client, alice, bot, auth_proxy, redis_url, mint):
    bot()
    key = new_key(client, alice, name="website")
    assert key["id"].startswith("k_") and key["key"].startswith("rck_") and key["name"] == "website"
    listed = client.get("/api/bots/tea-shop/keys", headers=alice).get_json()["keys"]
    assert [k["id"] for k in listed] == [key["id"]] and listed[0]["last_used_at"] is None
    assert key["key"] not in str(listed)

    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    stored = {name: everything_in(raw, name) for name in raw.scan_iter("*")}
    token = key["key"][len("rck_"):]
    assert not any(token in name or token in value for name, value in stored.items())
    digest = hashlib.sha256(key["key"].encode()).hexdigest()
    assert raw.exists(f"rc:{{botkey:{digest}}}")

    verified = client.post("/internal/bot-keys/verify", json={"key": key["key"]}, headers=auth_proxy)
    assert verified.status_code == 200, verified.get_json()
    assert verified.get_json() == {"key_id": key["id"], "slug": "tea-shop", "owner": "alice-id"}
    assert client.get("/api/bots/tea-shop/keys", headers=alice).get_json()["keys"][0]["last_used_at"]

    # only the auth-proxy's own service identity may verify
    for who in (alice, mint("auth-proxy", ("service",), identity.ISSUER_CHAT), mint("auth-proxy"),
                mint(visitor_id(), ("visitor",))):
        assert client.post("/internal/bot-keys/verify", json={"key": key["key"]}, headers=who).status_code == 403
    for bad in ("rck_" + secrets.token_urlsafe(32), "sk-nothing", "", 42, key["key"] + "x"):
        refused = client.post("/internal/bot-keys/verify", json={"key": bad}, headers=auth_proxy)
        assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "invalid_key"
        assert key["key"] not in refused.get_data(as_text=True)

    assert client.delete(f"/api/bots/tea-shop/keys/{key['id']}", headers=alice).status_code == 204
    assert client.post("/internal/bot-keys/verify", json={"key": key["key"]}, headers=auth_proxy).status_code == 401
    assert client.delete(f"/api/bots/tea-shop/keys/{key['id']}", headers=alice).status_code == 404
    assert client.get("/api/bots/tea-shop/keys", headers=alice).get_json() == {"keys": []}

    # deleting the bot revokes its keys
    second = new_key(client, alice)
    assert client.post("/internal/bot-keys/verify", json={"key": second["key"]}, headers=auth_proxy).status_code == 200
    assert client.delete("/api/bots/tea-shop", headers=alice).status_code == 204
    assert client.post("/internal/bot-keys/verify", json={"key": second["key"]}, headers=auth_proxy).status_code == 401
    assert not list(raw.scan_iter("rc:{botkey*"))


def test_keys_per_bot_are_limited(client, alice, bot, config):
    bot()
    app = create_app(replace(config, max_keys_per_bot=1)).test_client()
    new_key(app, alice)
    over = app.post("/api/bots/tea-shop/keys", json={}, headers=alice)
    assert over.status_code == 400 and over.get_json()["error"]["code"] == "limit_reached"


def test_visitors_conversations_are_their_own(client, alice, bot, mint):
    bot()
    first, second = visitor_id(), visitor_id()
    v1, v2 = mint(first, ("visitor",)), mint(second, ("visitor",))
    created = client.post("/api/public/bots/tea-shop/conversations", headers=v1)
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    # chat stores the turn through the ordinary message route, as the visitor
    for role_name, content in (("user", "Do you sell matcha?"), ("assistant", "Yes, three grades.")):
        stored = client.post(f"/api/conversations/{cid}/messages", json={"role": role_name, "content": content},
                             headers=mint(first, ("visitor",), identity.ISSUER_CHAT))
        assert stored.status_code == 201
    mine = client.get(f"/api/public/bots/tea-shop/conversations/{cid}", headers=v1)
    assert mine.status_code == 200
    assert [m["content"] for m in mine.get_json()["messages"]] == ["Do you sell matcha?", "Yes, three grades."]
    for who in (v2, alice):
        other = client.get(f"/api/public/bots/tea-shop/conversations/{cid}", headers=who)
        assert other.status_code == 404 and "matcha" not in other.get_data(as_text=True)
        assert client.get(f"/api/conversations/{cid}", headers=who).status_code == 404
    key = mint("k_" + secrets.token_urlsafe(16), ("api-key",))
    assert client.post("/api/public/bots/tea-shop/conversations", headers=key).status_code == 403
    assert client.post("/api/public/bots/nobody-here/conversations", headers=v1).status_code == 404

    # a conversation with one bot is not a conversation with another
    bot("other-shop")
    assert client.get(f"/api/public/bots/other-shop/conversations/{cid}", headers=v1).status_code == 404
    runtime = client.get(f"/internal/bots/other-shop/runtime?conversation={cid}",
                         headers=mint(first, ("visitor",), identity.ISSUER_CHAT))
    assert runtime.status_code == 404
    assert client.get(f"/internal/bots/tea-shop/runtime?conversation={cid}",
                      headers=mint(first, ("visitor",), identity.ISSUER_CHAT)).status_code == 200
    assert client.get(f"/internal/bots/tea-shop/runtime?conversation={cid}",
                      headers=mint(second, ("visitor",), identity.ISSUER_CHAT)).status_code == 404

    # unpublished: no new conversations, no answers
    client.patch("/api/bots/tea-shop", json={"published": False}, headers=alice)
    assert client.post("/api/public/bots/tea-shop/conversations", headers=v1).status_code == 404
    assert client.get("/internal/bots/tea-shop/runtime", headers=mint(first, ("visitor",),
                                                                      identity.ISSUER_CHAT)).status_code == 404


def test_the_owner_reads_the_transcripts_of_their_bot(client, alice, bob, bot, mint):
    bot()
    visitors = [visitor_id(), visitor_id()]
    ids = []
    for visitor, question in zip(visitors, ("What is gyokuro?", "Shipping to Osaka?")):
        opened = client.post("/api/public/bots/tea-shop/conversations", headers=mint(visitor, ("visitor",)))
        cid = opened.get_json()["id"]
        client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": question},
                    headers=mint(visitor, ("visitor",), identity.ISSUER_CHAT))
        ids.append(cid)
    # activity (recorded with the turn's usage) moves the first conversation to the top
    used = client.post("/internal/bots/tea-shop/usage", json={"prompt_tokens": 1, "completion_tokens": 1,
                                                              "conversation_id": ids[0]},
                       headers=mint(visitors[0], ("visitor",), identity.ISSUER_CHAT))
    assert used.status_code == 204, used.get_json()
    listed = client.get("/api/bots/tea-shop/conversations", headers=alice)
    assert listed.status_code == 200
    conversations = listed.get_json()["conversations"]
    assert [c["id"] for c in conversations] == ids
    assert [c["first_message"] for c in conversations] == ["What is gyokuro?", "Shipping to Osaka?"]
    body = listed.get_data(as_text=True)
    assert not any(v in body for v in visitors)  # only a pseudonym of each visitor
    assert conversations[0]["visitor"] != conversations[1]["visitor"]

    one = client.get(f"/api/bots/tea-shop/conversations/{ids[1]}", headers=alice)
    assert one.status_code == 200 and [m["content"] for m in one.get_json()["messages"]] == ["Shipping to Osaka?"]
    assert client.get(f"/api/bots/tea-shop/conversations/{ids[1]}", headers=bob).status_code == 404
    assert client.get(f"/api/bots/tea-shop/conversations/c_{'x' * 22}", headers=alice).status_code == 404
    assert client.get("/api/bots/tea-shop/conversations?limit=0", headers=alice).status_code == 400
    # the owner's own conversations are not transcripts of the bot
    own = client.post("/api/conversations", json={}, headers=alice).get_json()["id"]
    assert client.get(f"/api/bots/tea-shop/conversations/{own}", headers=alice).status_code == 404


def test_runtime_gives_chat_the_role_pins_and_budget(client, alice, role, bot, mint):
    rid = role(alice, instructions="Answer as the tea shop.", temperature=0.3, max_answer_tokens=200,
               model="ft:gpt-4o-mini:acme:tea:1")
    pin = client.post(f"/api/roles/{rid}/pins", json={"text": "We close on Mondays."}, headers=alice)
    assert pin.status_code == 201
    model = client.post("/api/registered-models", json={"id": "ft:gpt-4o-mini:acme:tea:1"}, headers=alice)
    assert model.status_code == 201
    bot(role_id=rid, daily_token_budget=100)
    visitor = visitor_id()
    as_chat = mint(visitor, ("visitor",), identity.ISSUER_CHAT)

    runtime = client.get("/internal/bots/tea-shop/runtime", headers=as_chat)
    assert runtime.status_code == 200, runtime.get_json()
    data = runtime.get_json()
    assert data["instructions"] == "Answer as the tea shop." and data["pins"] == ["We close on Mondays."]
    assert data["model"] == "ft:gpt-4o-mini:acme:tea:1" and data["model_registered"] is True
    assert (data["temperature"], data["max_answer_tokens"]) == (0.3, 200)
    assert (data["daily_token_budget"], data["tokens_today"], data["budget_exhausted"]) == (100, 0, False)
    # internal: not straight from the auth-proxy
    assert client.get("/internal/bots/tea-shop/runtime", headers=mint(visitor, ("visitor",))).status_code == 403

    def use(prompt, completion, who=as_chat, **more):
        response = client.post("/internal/bots/tea-shop/usage",
                               json={"prompt_tokens": prompt, "completion_tokens": completion, **more}, headers=who)
        assert response.status_code == 204, response.get_json()

    use(40, 20)
    assert client.get("/internal/bots/tea-shop/runtime", headers=as_chat).get_json()["tokens_today"] == 60
    use(30, 10)
    data = client.get("/internal/bots/tea-shop/runtime", headers=as_chat).get_json()
    assert data["budget_exhausted"] is True and 1 <= data["retry_after"] <= 86400
    usage = client.get("/api/bots/tea-shop/usage", headers=alice).get_json()
    assert len(usage["days"]) == 30 and usage["days"][-1]["total_tokens"] == 100 and usage["days"][-1]["turns"] == 2
    assert usage["remaining_today"] == 0 and usage["tokens_today"] == 100
    assert client.patch("/api/bots/tea-shop", json={"daily_token_budget": 1000}, headers=alice).status_code == 200
    assert client.get("/internal/bots/tea-shop/runtime", headers=as_chat).get_json()["budget_exhausted"] is False

    bad = client.post("/internal/bots/tea-shop/usage", json={"prompt_tokens": -1, "completion_tokens": 0},
                      headers=as_chat)
    assert bad.status_code == 400


def test_api_keys_reach_only_their_own_bot_and_count_their_usage(client, alice, bot, mint):
    bot()
    bot("other-shop")
    key = new_key(client, alice, name="site", monthly_token_quota=50)
    other = new_key(client, alice, slug="other-shop")
    caller = api_key_caller(mint, key["id"])

    assert client.get("/internal/bot-keys/self", headers=caller).get_json() == {"key_id": key["id"], "slug": "tea-shop"}
    runtime = client.get("/internal/bots/tea-shop/runtime", headers=caller)
    assert runtime.status_code == 200 and runtime.get_json()["key"]["id"] == key["id"]
    assert client.get("/internal/bots/other-shop/runtime", headers=caller).status_code == 404
    # the auth-proxy may also name the caller "k_" + key id
    prefixed = api_key_caller(mint, "k_" + key["id"])
    assert client.get("/internal/bots/tea-shop/runtime", headers=prefixed).status_code == 200
    assert client.post("/internal/bots/other-shop/usage", json={"prompt_tokens": 1, "completion_tokens": 1},
                       headers=caller).status_code == 404
    assert client.post("/internal/bots/tea-shop/usage", json={"prompt_tokens": 1, "completion_tokens": 1,
                                                              "key_id": other["id"]}, headers=caller).status_code == 403

    for _ in range(2):
        response = client.post("/internal/bots/tea-shop/usage", json={"prompt_tokens": 20, "completion_tokens": 10,
                                                                      "key_id": key["id"]}, headers=caller)
        assert response.status_code == 204
    listed = {k["id"]: k for k in client.get("/api/bots/tea-shop/keys", headers=alice).get_json()["keys"]}
    assert listed[key["id"]]["usage_this_month"] == {"tokens": 60, "requests": 2}
    runtime = client.get("/internal/bots/tea-shop/runtime", headers=caller).get_json()
    assert runtime["key"]["quota_exhausted"] is True and runtime["key"]["retry_after"] >= 1
    assert runtime["tokens_today"] == 60  # also counted for the bot

    assert client.delete(f"/api/bots/tea-shop/keys/{key['id']}", headers=alice).status_code == 204
    assert client.get("/internal/bots/tea-shop/runtime", headers=caller).status_code == 404
    assert client.get("/internal/bot-keys/self", headers=caller).status_code == 404


def test_bots_keys_and_transcripts_work_on_a_cluster(cluster_url, config, mint, auth_proxy):
    client = create_app(replace(config, redis_url=cluster_url, redis_cluster=True)).test_client()
    owner = mint("owner-cluster")
    rid = client.post("/api/roles", json={"name": "Shop"}, headers=owner).get_json()["id"]
    assert client.post("/api/bots", json={"role_id": rid, "slug": "cluster-shop"}, headers=owner).status_code == 201
    key = new_key(client, owner, slug="cluster-shop")
    assert client.post("/internal/bot-keys/verify", json={"key": key["key"]}, headers=auth_proxy).status_code == 200
    visitor = visitor_id()
    opened = client.post("/api/public/bots/cluster-shop/conversations", headers=mint(visitor, ("visitor",)))
    cid = opened.get_json()["id"]
    as_chat = mint(visitor, ("visitor",), identity.ISSUER_CHAT)
    client.post(f"/api/conversations/{cid}/messages", json={"role": "user", "content": "hi"}, headers=as_chat)
    assert client.get(f"/internal/bots/cluster-shop/runtime?conversation={cid}", headers=as_chat).status_code == 200
    used = client.post("/internal/bots/cluster-shop/usage",
                       json={"prompt_tokens": 2, "completion_tokens": 3, "conversation_id": cid}, headers=as_chat)
    assert used.status_code == 204
    transcripts = client.get("/api/bots/cluster-shop/conversations", headers=owner).get_json()["conversations"]
    assert [(c["id"], c["first_message"]) for c in transcripts] == [(cid, "hi")]
    assert client.get("/api/bots/cluster-shop/usage", headers=owner).get_json()["tokens_today"] == 5
    assert client.delete("/api/bots/cluster-shop", headers=owner).status_code == 204
    assert client.post("/internal/bot-keys/verify", json={"key": key["key"]}, headers=auth_proxy).status_code == 401
