"""The public API's routing table: which service answers each method and path.

One line per route. `{id}` matches a conversation id, `{pin_id}` a pin, `{role_id}` a role (yours,
`r_…`, or a built-in one, `preset-…`), `{model_id}` a fine-tuned model id (`ft:…`), `{slug}` a
published bot, `{key_id}` one of its API keys (`k_…`); a path that has the shape of a route but
an id of the wrong format is a 404 without asking anyone. The same `{name}` templates are used
in openapi.yaml, and a test checks that both list exactly the same routes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rolechat_common import ids

SELF = "auth-proxy"   # answered by the proxy itself
CHAT = "chat"
MEMORY = "memory"

# Who may call a route: a signed-in user (ALB session or Cognito access token), anyone, a visitor
# of a published bot's page (an anonymous cookie), or a program holding a bot's API key.
USER, PUBLIC, VISITOR, API_KEY = "user", "public", "visitor", "api-key"

PARAMETERS = {
    "id": ids.CONVERSATION_ID,
    "pin_id": ids.PIN_ID,
    "role_id": re.compile(r"^(r_[A-Za-z0-9_-]{22}|preset-[a-z0-9-]{1,40})$"),
    "model_id": ids.FINE_TUNED_MODEL_ID,
    "slug": ids.BOT_SLUG,
    "key_id": ids.KEY_ID,
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str             # template, e.g. "/api/conversations/{id}"
    target: str           # SELF, CHAT or MEMORY
    auth: str = USER      # who may call it: USER, PUBLIC, VISITOR or API_KEY
    stream: bool = False  # True: answers with a stream, which holds one of the user's stream slots
    segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "segments", tuple(self.path.strip("/").split("/")))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters if `segments` fits this route's shape; ids are checked separately."""
        if len(segments) != len(self.segments):
            return None
        params = {}
        for template, actual in zip(self.segments, segments):
            if template.startswith("{") and template.endswith("}"):
                params[template[1:-1]] = actual
            elif template != actual:
                return None
        return params

    def url(self, base: str, params: dict[str, str]) -> str:
        path = self.path
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        return base + path


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/me", SELF),
    Route("GET", "/api/openapi.json", SELF, auth=PUBLIC),
    Route("GET", "/api/models", CHAT),
    Route("GET", "/api/conversations", MEMORY),
    Route("POST", "/api/conversations", CHAT),
    Route("GET", "/api/conversations/{id}", MEMORY),
    Route("PATCH", "/api/conversations/{id}", CHAT),
    Route("DELETE", "/api/conversations/{id}", MEMORY),
    Route("POST", "/api/conversations/{id}/messages", CHAT, stream=True),
    Route("GET", "/api/conversations/{id}/pins", MEMORY),
    Route("POST", "/api/conversations/{id}/pins", CHAT),
    Route("DELETE", "/api/conversations/{id}/pins/{pin_id}", MEMORY),
    Route("GET", "/api/conversations/{id}/context", MEMORY),
    Route("GET", "/api/conversations/{id}/export", MEMORY),
    Route("GET", "/api/roles", CHAT),
    Route("POST", "/api/roles", CHAT),
    Route("GET", "/api/roles/{role_id}", CHAT),
    Route("PATCH", "/api/roles/{role_id}", CHAT),
    Route("DELETE", "/api/roles/{role_id}", CHAT),
    Route("GET", "/api/roles/{role_id}/pins", CHAT),
    Route("POST", "/api/roles/{role_id}/pins", CHAT),
    Route("DELETE", "/api/roles/{role_id}/pins/{pin_id}", CHAT),
    Route("POST", "/api/models", CHAT),
    Route("GET", "/api/models/provider", CHAT),
    Route("PATCH", "/api/models/{model_id}", CHAT),
    Route("DELETE", "/api/models/{model_id}", CHAT),
    Route("GET", "/api/usage", MEMORY),
    Route("GET", "/api/bots", MEMORY),
    Route("POST", "/api/bots", MEMORY),
    Route("GET", "/api/bots/{slug}", MEMORY),
    Route("PATCH", "/api/bots/{slug}", MEMORY),
    Route("DELETE", "/api/bots/{slug}", MEMORY),
    Route("GET", "/api/bots/{slug}/keys", MEMORY),
    Route("POST", "/api/bots/{slug}/keys", MEMORY),
    Route("DELETE", "/api/bots/{slug}/keys/{key_id}", MEMORY),
    Route("GET", "/api/bots/{slug}/usage", MEMORY),
    Route("GET", "/api/bots/{slug}/conversations", MEMORY),
    Route("GET", "/api/bots/{slug}/conversations/{id}", MEMORY),
    Route("GET", "/api/public/bots/{slug}", MEMORY, auth=VISITOR),
    Route("POST", "/api/public/bots/{slug}/conversations", MEMORY, auth=VISITOR),
    Route("GET", "/api/public/bots/{slug}/conversations/{id}", MEMORY, auth=VISITOR),
    Route("POST", "/api/public/bots/{slug}/conversations/{id}/messages", CHAT, auth=VISITOR, stream=True),
    Route("GET", "/v1/models", CHAT, auth=API_KEY),
    Route("GET", "/v1/models/{slug}", CHAT, auth=API_KEY),
    Route("POST", "/v1/chat/completions", CHAT, auth=API_KEY, stream=True),
)


def _matches(path: str) -> list[tuple[Route, dict[str, str]]]:
    """Every route, of any method, whose shape and parameter formats fit this path."""
    segments = path.split("/")[1:]
    if not path.startswith("/") or not all(segments):  # no trailing slash, no empty segments
        return []
    found = []
    for route in ROUTES:
        params = route.match(segments)
        if params is not None and all(PARAMETERS[name].fullmatch(value) for name, value in params.items()):
            found.append((route, params))
    return found


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for this request with its validated parameters, or None (→ 404 or 405)."""
    return next(((route, params) for route, params in _matches(path) if route.method == method), None)


def allowed_methods(path: str) -> list[str]:
    """The methods this path answers to (for a 405's Allow header); empty for unknown paths."""
    return sorted({route.method for route, _ in _matches(path)})
