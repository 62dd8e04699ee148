"""Calls to the memory service's API through Flask's test client, for memory's own tests."""
from __future__ import annotations


def create(client, who, **fields) -> str:
    """A new conversation of `who`; its id."""
    response = client.post("/api/conversations", json=fields, headers=who)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def post(client, who, cid, role, content, **more) -> dict:
    """A stored message of conversation `cid`."""
    response = client.post(f"/api/conversations/{cid}/messages", json={"role": role, "content": content, **more},
                           headers=who)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
