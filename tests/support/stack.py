"""The whole rolechat stack as real processes on free loopback ports, for integration tests.

Same processes as `make run` (gunicorn + gevent for each service, a private durable Redis), with
the fake OpenAI-compatible upstream in place of the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests

from .processes import ROOT, TEST_SECRET, RedisServer, Service, free_port

ALB_ARN = "arn:aws:elasticloadbalancing:local-1:000000000000:loadbalancer/app/rolechat-test/0123456789abcdef"
COGNITO_ISSUER = "https://cognito-idp.local-1.amazonaws.com/local-1_rolechattest"
COGNITO_CLIENT_ID = "rolechattestclient"
UPSTREAM_KEY = "sk-test-upstream-key-that-must-never-be-logged"

# The shared stack serves many tests as few users, far faster than any person: limits that never
# bind there. Tests of the limits start stacks of their own with tight ones.
GENEROUS_LIMITS = {"RATE_LIMIT_PER_MINUTE": "100000", "ANONYMOUS_RATE_LIMIT_PER_MINUTE": "100000",
                   "MAX_CONCURRENT_STREAMS": "1000", "DAILY_TOKEN_QUOTA": "1000000000"}


@dataclass
class Stack:
    workdir: Path
    upstream_base_url: str
    chat_env: dict = field(default_factory=dict)
    proxy_env: dict = field(default_factory=dict)
    memory_env: dict = field(default_factory=dict)
    cognito_issuer: str = COGNITO_ISSUER
    redis: RedisServer | None = None
    services: dict[str, Service] = field(default_factory=dict)

    def start(self) -> "Stack":
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.workdir / "redis", logs).start()
        memory = Service("memory", "memory:create_app()", {
            "REDIS_URL": self.redis.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET, **GENEROUS_LIMITS, **self.memory_env},
            logs)
        chat = Service("chat", "chat:create_app()", {
            "MEMORY_URL": memory.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET,
            "OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": self.upstream_base_url,
            "SSE_HEARTBEAT_SECONDS": "1", **self.chat_env}, logs)
        edge_port = free_port()  # the auth-proxy needs the edge's key URL before the edge exists
        auth_proxy = Service("auth-proxy", "auth_proxy:create_app()", {
            "CHAT_URL": chat.url, "MEMORY_URL": memory.url, "INTERNAL_IDENTITY_SECRET": TEST_SECRET,
            "ALB_ARN": ALB_ARN, "ALB_KEY_URL": f"http://127.0.0.1:{edge_port}/alb-keys",
            "COGNITO_ISSUER": self.cognito_issuer, "COGNITO_CLIENT_ID": COGNITO_CLIENT_ID, "REDIS_URL": self.redis.url,
            **GENEROUS_LIMITS, **self.proxy_env}, logs)
        edge = Service("local-edge", "local_edge:create_app()", {
            "AUTH_PROXY_URL": auth_proxy.url, "STATIC_DIR": str(ROOT / "frontend" / "dist"),
            "EDGE_SESSION_SECRET": "test-edge-session-secret-0123456789abcdef",
            "EDGE_DATA_DIR": str(self.workdir / "edge"), "ALB_ARN": ALB_ARN,
            "COGNITO_ISSUER": self.cognito_issuer, "COGNITO_CLIENT_ID": COGNITO_CLIENT_ID},
            logs, port=edge_port)
        for service in (memory, chat, auth_proxy, edge):
            self.services[service.name] = service.start()
        return self

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.redis:
            self.redis.stop()

    def url(self, name: str) -> str:
        return self.services[name].url

    @property
    def edge(self) -> str:
        return self.url("local-edge")

    def login(self, username: str) -> requests.Session:
        session = requests.Session()
        response = session.post(f"{self.edge}/local/login", json={"username": username}, timeout=5)
        assert response.status_code == 204, response.text
        return session

    def logs(self) -> str:
        parts = [s.log_text() for s in self.services.values()]
        return "\n".join(parts + ([self.redis.log_text()] if self.redis else []))
