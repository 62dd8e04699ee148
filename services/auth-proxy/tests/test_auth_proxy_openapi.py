"""The OpenAPI document describes exactly the routes the auth-proxy routes, and is well formed."""
from __future__ import annotations

from auth_proxy import load_openapi
from auth_proxy.routing import API_KEY, PARAMETERS, PUBLIC, ROUTES, USER, VISITOR

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def documented_routes(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item
            if method in HTTP_METHODS}


def test_every_route_is_documented_and_every_documented_route_exists():
    doc = load_openapi()
    table = {(route.method, route.path) for route in ROUTES}
    assert len(table) == len(ROUTES), "a route is listed twice"
    assert documented_routes(doc) == table


def test_served_document_is_the_yaml_one(client):
    assert client.get("/api/openapi.json").get_json() == load_openapi()


def test_it_is_openapi_3_1_with_resolvable_references():
    doc = load_openapi()
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    found = list(refs(doc))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert part in node, f"unresolvable {ref}"
            node = node[part]


def test_authentication_and_error_responses_are_described():
    doc = load_openapi()
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation.get("operationId")
        if route.auth == USER:
            assert "security" not in operation, route  # the global ALB identity requirement applies
            assert "401" in operation["responses"], route
        elif route.auth in (PUBLIC, VISITOR):  # visitors are known by a cookie the server sets itself
            assert operation["security"] == [], route
        else:
            assert route.auth == API_KEY, route
            assert operation["security"] == [{"botApiKey": []}], route
            assert "401" in operation["responses"], route
        if "{id}" in route.path:
            assert "404" in operation["responses"], route
        if route.method in ("POST", "PATCH"):
            assert {"400", "413"} <= set(operation["responses"]), route
    for name in ("BadRequest", "Unauthorized", "NotFound", "TooLarge"):
        schema = doc["components"]["responses"][name]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    bot_api_key = doc["components"]["securitySchemes"]["botApiKey"]
    assert (bot_api_key["type"], bot_api_key["scheme"]) == ("http", "bearer")
    for route in ROUTES:  # the OpenAI-compatible API answers errors in OpenAI's shape, everything else in ours
        operation = doc["paths"][route.path][route.method.lower()]
        expected = "OpenAIError" if route.path.startswith("/v1/") else "Error"
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                if "$ref" in response:
                    response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{expected}"}, (route, status)


def test_path_parameter_matches_the_routing_pattern():
    doc = load_openapi()
    assert doc["components"]["parameters"]["ConversationId"]["schema"]["pattern"] == PARAMETERS["id"].pattern
    by_name = {p["name"]: p["schema"]["pattern"] for p in doc["components"]["parameters"].values() if p["in"] == "path"}
    assert by_name == {name: pattern.pattern for name, pattern in PARAMETERS.items()}


def test_the_answer_stream_is_described_as_server_sent_events():
    doc = load_openapi()
    ok = doc["paths"]["/api/conversations/{id}/messages"]["post"]["responses"]["200"]
    assert "text/event-stream" in ok["content"]
    description = doc["paths"]["/api/conversations/{id}/messages"]["post"]["description"]
    for event in ("event: delta", "event: done", "event: error", ": keep-alive"):
        assert event in description
    assert set(ok["x-sse-events"]) == {"delta", "done", "error"}
