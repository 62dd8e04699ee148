"""The JSON every service reads and writes through Flask (rolechat_common.web.FastJSONProvider):
the same documents as Flask's own provider gives, in compact UTF-8, and bodies that are not JSON
refused with a clear 400."""
from __future__ import annotations

import datetime
import decimal
import json
import uuid

import pytest
from flask import Flask, jsonify

from rolechat_common import web

WHEN = datetime.datetime(2026, 11, 25, 9, 30, tzinfo=datetime.timezone.utc)


@pytest.fixture
def app():
    app = Flask("json-provider")
    web.install(app, "json-provider", identity_secret=None)

    @app.get("/values")
    def values():
        return {"text": "Grüße, 世界 🙂", "nested": {"list": [1, 2.5, None, True]}, 7: "int key",
                "when": WHEN, "day": WHEN.date(), "price": decimal.Decimal("0.10"),
                "id": uuid.UUID(int=1)}

    @app.get("/list")
    def a_list():
        return jsonify([1, "two"])

    @app.get("/beyond-orjson")
    def beyond_orjson():
        return {"big": 10**20, "cut": "\ud83d"}  # a count past 64 bits, half an emoji

    @app.post("/echo")
    def echo():
        return {"got": web.json_body()}

    return app


@pytest.fixture
def client(app):
    return app.test_client()


def test_a_returned_dict_is_compact_utf8_json_with_flasks_conversions(client):
    response = client.get("/values")
    assert response.status_code == 200 and response.mimetype == "application/json"
    raw = response.get_data()
    assert "Grüße, 世界 🙂".encode() in raw, "non-ASCII text is sent as UTF-8, not escaped"
    assert raw.startswith(b'{"text":"') and b'true]},"7":"int key","when":' in raw, "compact, in insertion order"
    assert json.loads(raw) == {
        "text": "Grüße, 世界 🙂", "nested": {"list": [1, 2.5, None, True]}, "7": "int key",
        "when": "Wed, 25 Nov 2026 09:30:00 GMT", "day": "Wed, 25 Nov 2026 00:00:00 GMT",  # as Flask writes dates
        "price": "0.10", "id": "00000000-0000-0000-0000-000000000001"}


def test_jsonify_still_answers_lists(client):
    assert client.get("/list").get_json() == [1, "two"]


def test_a_json_body_is_read_back_as_sent(client):
    body = {"text": "Grüße 🙂", "n": 12345678901234, "f": 0.5, "deep": [{"a": None}]}
    assert client.post("/echo", json=body).get_json() == {"got": body}


@pytest.mark.parametrize("data", [b'{"cost": NaN}', b'{"cost": Infinity}', b'{"a": 1', b'{"a": "\\ud800"}',
                                  b'\xff\xfe', b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_a_400(client, data):
    response = client.post("/echo", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_what_orjson_cannot_write_is_written_as_flask_would(client):
    response = client.get("/beyond-orjson")
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"big": 10**20, "cut": "\ud83d"}


def test_a_leading_byte_order_mark_is_ignored(app, client):
    response = client.post("/echo", data=b'\xef\xbb\xbf{"a": 1}', content_type="application/json")
    assert response.status_code == 200 and response.get_json() == {"got": {"a": 1}}
    assert app.json.loads('\ufeff{"a": 1}') == {"a": 1}
