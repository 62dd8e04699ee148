"""GET /api/models: the configured catalog, or the upstream's own list (cached), and health."""
from __future__ import annotations

import time

from chat.config import CatalogModel


def _brief(body: dict) -> dict:
    return {"models": [{"id": m["id"], "label": m["label"]} for m in body["models"]], "default": body["default"]}


def test_configured_catalog_and_default(make_app, who, upstream):
    catalog = (CatalogModel("gpt-4o-mini", "GPT-4o mini"), CatalogModel("ft:gpt-4o:acme::x1", "Acme support"))
    client = make_app(model_catalog=catalog, default_model="ft:gpt-4o:acme::x1").test_client()
    response = client.get("/api/models", headers=who)
    assert response.status_code == 200
    body = response.get_json()
    assert _brief(body) == {"models": [{"id": "gpt-4o-mini", "label": "GPT-4o mini"},
                                       {"id": "ft:gpt-4o:acme::x1", "label": "Acme support"}],
                            "default": "ft:gpt-4o:acme::x1"}
    assert body["models"][0]["context_window"] == 128_000 and body["models"][1]["fine_tuned"] is True
    assert upstream.requests("/v1/models") == [], "a configured catalog needs no upstream call"
    client = make_app(model_catalog=catalog, default_model=None).test_client()
    assert client.get("/api/models", headers=who).get_json()["default"] == "gpt-4o-mini"


def test_upstream_list_through_the_sdk_cached_and_filtered(make_app, who, upstream):
    upstream.configure(models=["gpt-4o", "text-embedding-3-small", "whisper-1", "gpt-4o-mini", "dall-e-3",
                               "ft:gpt-4o-mini:acme::abc"])
    client = make_app(default_model=None).test_client()
    first = client.get("/api/models", headers=who)
    assert first.status_code == 200
    assert _brief(first.get_json()) == {"models": [{"id": "ft:gpt-4o-mini:acme::abc", "label": "ft:gpt-4o-mini:acme::abc"},
                                           {"id": "gpt-4o", "label": "gpt-4o"},
                                           {"id": "gpt-4o-mini", "label": "gpt-4o-mini"}],
                                "default": "gpt-4o-mini"}, "a known inexpensive model, not the alphabetically first"
    assert client.get("/api/models", headers=who).get_json() == first.get_json()
    requests = upstream.requests("/v1/models")
    assert len(requests) == 1, "the list is cached"
    assert requests[0]["authorized"]


def test_default_model_is_offered_even_if_the_upstream_does_not_list_it(make_app, who, upstream):
    upstream.configure(models=["gpt-4o"])
    body = make_app(default_model="smollm2-135m-instruct").test_client().get("/api/models", headers=who).get_json()
    assert body["default"] == "smollm2-135m-instruct"
    assert [m["id"] for m in body["models"]] == ["smollm2-135m-instruct", "gpt-4o"]


def test_upstream_failure_is_502_with_a_clear_message(make_app, who, upstream):
    upstream.configure(models_fail_status=500)
    client = make_app().test_client()
    response = client.get("/api/models", headers=who)
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error" and "list of models" in error["message"]
    response = client.post("/api/conversations", json={}, headers=who)
    assert response.status_code == 502, "a model cannot be checked without the list"


def test_a_stale_list_is_served_when_the_upstream_fails_later(make_app, who, upstream):
    client = make_app(models_cache_seconds=0.05).test_client()
    fresh = client.get("/api/models", headers=who).get_json()
    upstream.configure(models_fail_status=503)
    time.sleep(0.1)
    response = client.get("/api/models", headers=who)
    assert response.status_code == 200 and response.get_json() == fresh


def test_health_and_readiness(client, upstream):
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "chat"}
    assert client.get("/readyz").get_json() == {"status": "ready", "service": "chat"}
    assert client.get("/metrics").status_code == 200
