"""Roles (presets and the user's own, with role memory), fine-tuned models and usage, through chat."""
from __future__ import annotations

import json

import pytest

from chat.config import CatalogModel, Config, parse_catalog
from chat.presets import language, load
from rolechat_common import identity
from rolechat_common.config import ConfigError
from tests.support.processes import TEST_SECRET

FT = "ft:gpt-4o-mini-2024-07-18:acme:support:Ab12Cd34"


def admin_headers(user_id: str) -> dict:
    token = identity.mint(identity.Identity(user_id, user_id, ("admins",)), TEST_SECRET, identity.ISSUER_AUTH_PROXY)
    return {identity.IDENTITY_HEADER: token}


def system_messages(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


def test_presets_ship_in_both_languages_and_the_caller_gets_theirs(client, who):
    english = client.get("/api/roles", headers={**who, "Accept-Language": "en-US,en;q=0.9"}).get_json()
    japanese = client.get("/api/roles", headers={**who, "Accept-Language": "ja,en;q=0.5"}).get_json()
    ids = [r["id"] for r in english["roles"] if r["builtin"]]
    assert {"preset-programming-teacher", "preset-support-agent", "preset-translator-ja-en",
            "preset-english-partner", "preset-code-reviewer", "preset-assistant"} <= set(ids)
    teacher_en = next(r for r in english["roles"] if r["id"] == "preset-programming-teacher")
    teacher_ja = next(r for r in japanese["roles"] if r["id"] == "preset-programming-teacher")
    assert teacher_en["name"] == "Programming teacher" and teacher_ja["name"] == "プログラミングの先生"
    assert japanese["language"] == "ja" and english["language"] == "en"


def test_language_negotiation():
    assert language(None) == "en"
    assert language("ja-JP") == "ja"
    assert language("fr, ja;q=0.3, en;q=0.8") == "en"
    assert language("de;q=x, ja;q=0") == "en"


def test_presets_file_is_validated(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("presets:\n  - id: x\n    name: {en: X}\n    instructions: {en: y, ja: z}\n")
    with pytest.raises(ConfigError, match="name"):
        load(str(bad))
    assert "preset-assistant" in load(None)


def test_a_preset_reaches_the_model_and_is_read_only(client, who, upstream, new_conversation, say, memory, user_id):
    conversation = new_conversation(role_id="preset-programming-teacher")
    assert conversation["role_id"] == "preset-programming-teacher"
    response, events = say(conversation["id"], "What is a loop?")
    assert events[-1].kind == "done"
    assert events[-1].data["message"]["role_id"] == "preset-programming-teacher"
    assert "patient programming teacher" in system_messages(upstream.completion_requests()[-1])[0]
    for method in ("PATCH", "DELETE"):
        response = client.open("/api/roles/preset-assistant", method=method, json={"name": "x"}, headers=who)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "builtin_read_only"
    assert client.post("/api/roles/preset-assistant/pins", json={"text": "x"}, headers=who).status_code == 403


def test_own_role_with_memory_temperature_and_answer_cap(client, who, upstream, new_conversation, say):
    response = client.post("/api/roles", json={"name": "Tea shop", "instructions": "You sell green tea.",
                                               "temperature": 0.3, "max_answer_tokens": 7}, headers=who)
    assert response.status_code == 201, response.get_json()
    role = response.get_json()
    pin = client.post(f"/api/roles/{role['id']}/pins", json={"text": "Shop opens at 9."}, headers=who)
    assert pin.status_code == 201
    conversation = new_conversation(role_id=role["id"])
    say(conversation["id"], "When do you open?")
    body = upstream.completion_requests()[-1]
    system = system_messages(body)
    assert system[0] == "You sell green tea." and "Shop opens at 9." in system[1]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 7
    listed = client.get(f"/api/roles/{role['id']}/pins", headers=who).get_json()["pins"]
    assert [p["text"] for p in listed] == ["Shop opens at 9."]
    assert client.delete(f"/api/roles/{role['id']}/pins/{listed[0]['id']}", headers=who).status_code == 204
    patched = client.patch(f"/api/roles/{role['id']}", json={"instructions": "You sell black tea."}, headers=who)
    assert patched.status_code == 200 and patched.get_json()["instructions"] == "You sell black tea."
    say(conversation["id"], "Again?")
    assert system_messages(upstream.completion_requests()[-1]) == ["You sell black tea."]
    assert client.delete(f"/api/roles/{role['id']}", headers=who).status_code == 204
    assert client.get(f"/api/roles/{role['id']}", headers=who).status_code == 404


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x", "temperature": 3}, {"name": "x", "temperature": "hot"},
                                  {"name": "x", "max_answer_tokens": 0}, {"name": "x", "model": "nope"},
                                  {"name": "x", "colour": "red"}, {"name": "x", "temperature": True}])
def test_bad_roles_are_400(client, who, body):
    response = client.post("/api/roles", json=body, headers=who)
    assert response.status_code == 400, response.get_json()


def test_another_users_role_is_404(client, who, headers_for):
    role = client.post("/api/roles", json={"name": "Mine"}, headers=who).get_json()
    other = headers_for("u-someone-else-0001")
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/pins"), ("POST", "/pins")):
        response = client.open(f"/api/roles/{role['id']}{path}", method=method, json={"text": "x"} if path else {"name": "x"},
                                  headers=other)
        assert response.status_code == 404, (method, path)
    assert client.post("/api/conversations", json={"role_id": role["id"]}, headers=other).status_code == 404


def test_switching_roles_and_back_to_free_form(client, who, upstream, new_conversation, say):
    conversation = new_conversation(instructions="Free-form role.")
    say(conversation["id"], "one")
    assert system_messages(upstream.completion_requests()[-1]) == ["Free-form role."]
    assert client.patch(f"/api/conversations/{conversation['id']}", json={"role_id": "preset-code-reviewer"},
                        headers=who).status_code == 200
    say(conversation["id"], "two")
    assert "code reviewer" in system_messages(upstream.completion_requests()[-1])[0]
    assert client.patch(f"/api/conversations/{conversation['id']}", json={"role_id": ""},
                        headers=who).get_json()["role_id"] == ""
    say(conversation["id"], "three")
    assert system_messages(upstream.completion_requests()[-1]) == ["Free-form role."]


def test_fine_tuned_registration_sharing_and_use(client, who, user_id, upstream, new_conversation, say, headers_for):
    upstream.configure(models=["gpt-4o-mini", FT])
    bad = client.post("/api/models", json={"id": "ft:gpt-4o-mini:acme:nope:x"}, headers=who)
    assert bad.status_code == 422 and "does not exist" in bad.get_json()["error"]["message"]
    assert client.post("/api/models", json={"id": "gpt-4o"}, headers=who).status_code == 400
    response = client.post("/api/models", json={"id": FT, "label": "Support"}, headers=who)
    assert response.status_code == 201 and response.get_json()["shared"] is False
    conversation = new_conversation(model=FT)
    say(conversation["id"], "hello")
    assert upstream.completion_requests()[-1]["model"] == FT
    other = headers_for("u-someone-else-0002")
    assert client.patch(f"/api/models/{FT}", json={"shared": True}, headers=other).status_code == 404
    assert client.patch(f"/api/models/{FT}", json={"shared": True}, headers=who).status_code == 403
    assert client.get("/api/models/provider", headers=who).status_code == 403
    admin = admin_headers(user_id)
    assert client.get("/api/models/provider", headers=admin).get_json() == {"models": [{"id": FT}]}
    shared = client.patch(f"/api/models/{FT}", json={"shared": True}, headers=admin)
    assert shared.status_code == 200 and shared.get_json()["shared"] is True
    assert client.patch(f"/api/models/{FT}", json={"shared": False}, headers=admin).get_json()["shared"] is False
    assert client.delete(f"/api/models/{FT}", headers=who).status_code == 204


def test_unregistered_model_is_400_in_a_configured_catalog(make_app, who, upstream):
    client = make_app(model_catalog=(CatalogModel("gpt-4o-mini", "mini"),)).test_client()
    response = client.post("/api/conversations", json={"model": FT}, headers=who)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "unknown_model"
    assert client.post("/api/models", json={"id": FT}, headers=who).status_code == 201
    assert client.post("/api/conversations", json={"model": FT}, headers=who).status_code == 201
    ids = [m["id"] for m in client.get("/api/models", headers=who).get_json()["models"]]
    assert ids == ["gpt-4o-mini", FT]


def test_usage_is_recorded_per_day_and_model_with_cost(make_app, who, upstream, memory_service):
    import requests

    from tests.support.sse import parse_sse
    catalog = (CatalogModel("gpt-4o-mini", "mini", input_price=0.15, output_price=0.6),)
    client = make_app(model_catalog=catalog).test_client()
    cid = client.post("/api/conversations", json={}, headers=who).get_json()["id"]
    for text in ("first question", "second question"):
        client.post(f"/api/conversations/{cid}/messages", json={"content": text}, headers=who).get_data()
    reported = [s for s in upstream.streams()]
    usage = requests.get(f"{memory_service.url}/api/usage", headers=who, timeout=5).json()
    assert usage["total"]["turns"] == 2
    assert usage["models"][0]["model"] == "gpt-4o-mini"
    prompt, completion = usage["total"]["prompt_tokens"], usage["total"]["completion_tokens"]
    assert prompt > 0 and completion > 0
    assert usage["total"]["cost_usd"] == pytest.approx((prompt * 0.15 + completion * 0.6) / 1e6, rel=1e-6)
    assert reported and parse_sse


def test_catalog_entries_with_their_own_endpoint(monkeypatch):
    env = {"OTHER_KEY": "sk-other"}
    catalog = parse_catalog(json.dumps([
        {"id": "local", "base_url": "http://127.0.0.1:1/v1", "api_key_env": "OTHER_KEY", "input_price": 1},
        {"id": "az", "azure": {"endpoint": "https://x.openai.azure.com", "api_version": "2024-10-21",
                               "deployment": "gpt4o"}, "api_key_env": "OTHER_KEY"}]), env)
    assert catalog[0].base_url == "http://127.0.0.1:1/v1" and catalog[1].azure[2] == "gpt4o"
    for bad in ([{"id": "x", "api_key": "sk-secret"}], [{"id": "x", "api_key_env": "MISSING_KEY"}],
                [{"id": "x", "base_url": "ftp://x"}], [{"id": "x", "input_price": -1}],
                [{"id": "x", "input_price": float("nan")}], [{"id": "x", "output_price": float("inf")}],
                [{"id": "x", "output_price": 10**400}],
                [{"id": "x", "azure": {"endpoint": "https://x"}, "api_key_env": "OTHER_KEY"}]):
        with pytest.raises(ConfigError):
            parse_catalog(json.dumps(bad), env)


def test_catalog_file_yaml_with_default(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("default: b\nmodels:\n  - id: a\n    context_window: 8192\n  - {id: b, label: B, output_price: 2}\n")
    config = Config.from_env({"MEMORY_URL": "http://127.0.0.1:1", "INTERNAL_IDENTITY_SECRET": TEST_SECRET,
                              "OPENAI_API_KEY": "sk-x", "MODEL_CATALOG_FILE": str(path)})
    assert [m.id for m in config.model_catalog] == ["a", "b"] and config.default_model == "b"
    assert config.model_catalog[0].context_window == 8192
    with pytest.raises(ConfigError):
        Config.from_env({"MEMORY_URL": "http://127.0.0.1:1", "INTERNAL_IDENTITY_SECRET": TEST_SECRET,
                         "OPENAI_API_KEY": "sk-x", "MODEL_CATALOG_FILE": str(tmp_path / "missing.yaml")})
