"""The processes a benchmark run measures: the lean upstream, Redis, memory, chat and auth-proxy
(optionally the local edge), each under gunicorn exactly as in production, on free loopback ports."""
from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization

from local_edge import alb_token
from tests.support.processes import ROOT, RedisServer, Service, free_port

SECRET = "bench-internal-identity-secret-0123456789abcdef"
ALB_ARN = "arn:aws:elasticloadbalancing:local-1:000000000000:loadbalancer/app/rolechat-bench/0123456789abcdef"
COGNITO_ISSUER = "https://cognito-idp.local-1.amazonaws.com/local-1_rolechatbench"
COGNITO_CLIENT_ID = "rolechatbenchclient"
UPSTREAM_KEY = "sk-bench-upstream-key"
MODEL = "bench-model"
USER_NAMESPACE = uuid.UUID("0b6d8a52-6a55-4f0e-9a51-7d7f4a3c2e10")
SERVICES = ("auth-proxy", "chat", "memory")


def user(index: int) -> tuple[str, str]:
    name = f"bench-{index}"
    return str(uuid.uuid5(USER_NAMESPACE, name)), name


@dataclass
class BenchStack:
    workdir: Path
    tokens: int
    rate: float
    first_token_delay: float = 0.0
    service_env: dict = field(default_factory=dict)     # applied to every service
    chat_env: dict = field(default_factory=dict)
    with_edge: bool = False
    upstream_proc: subprocess.Popen | None = None
    upstream_port: int = 0
    redis: RedisServer | None = None
    services: dict[str, Service] = field(default_factory=dict)

    def start(self) -> "BenchStack":
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.private_key = alb_token.generate_key()
        self.kid = alb_token.new_kid()
        key_file = self.workdir / "alb-key.pem"
        key_file.write_bytes(alb_token.public_pem(self.private_key))
        self._start_upstream(key_file, logs)
        self.redis = RedisServer(self.workdir / "redis", logs).start()
        common = {"INTERNAL_IDENTITY_SECRET": SECRET, **self.service_env}
        memory = Service("memory", "memory:create_app()", {"REDIS_URL": self.redis.url, **common}, logs)
        chat = Service("chat", "chat:create_app()", {
            "MEMORY_URL": memory.url, "OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": self.upstream_url,
            "MODEL_CATALOG": json.dumps([{"id": MODEL, "label": "Bench"}]), **common, **self.chat_env}, logs)
        auth_proxy = Service("auth-proxy", "auth_proxy:create_app()", {
            "CHAT_URL": chat.url, "MEMORY_URL": memory.url, "ALB_ARN": ALB_ARN,
            "ALB_KEY_URL": f"http://127.0.0.1:{self.upstream_port}/alb-keys",
            "COGNITO_ISSUER": COGNITO_ISSUER, "COGNITO_CLIENT_ID": COGNITO_CLIENT_ID, "REDIS_URL": self.redis.url,
            **common}, logs)
        for service in (memory, chat, auth_proxy):
            self.services[service.name] = service.start()
        if self.with_edge:
            self._start_edge(logs)
        return self

    def _start_upstream(self, key_file: Path, logs: Path) -> None:
        with open(logs / "upstream.log", "ab") as log:
            self.upstream_proc, self.upstream_port = start_upstream(
                self.tokens, self.rate, first_token_delay=self.first_token_delay, key_file=key_file, stderr=log)

    def _start_edge(self, logs: Path) -> None:
        """The local edge, signing with the same key (its data dir holds it), in front of the auth-proxy."""
        edge_dir = self.workdir / "edge"
        edge_dir.mkdir(exist_ok=True, mode=0o700)
        (edge_dir / "alb-signing-key.json").write_text(json.dumps(
            {"kid": self.kid, "private_key": private_pem(self.private_key).decode("ascii")}))
        edge = Service("local-edge", "local_edge:create_app()", {
            "AUTH_PROXY_URL": self.services["auth-proxy"].url, "STATIC_DIR": str(ROOT / "frontend" / "dist"),
            "EDGE_SESSION_SECRET": "bench-edge-session-secret-0123456789abcdef",
            "EDGE_DATA_DIR": str(edge_dir), "ALB_ARN": ALB_ARN, "COGNITO_ISSUER": COGNITO_ISSUER,
            "COGNITO_CLIENT_ID": COGNITO_CLIENT_ID, **self.service_env}, logs)
        self.services["local-edge"] = edge.start()

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}/v1"

    def upstream(self, method: str, path: str, payload: dict | None = None) -> dict:
        response = requests.request(method, f"http://127.0.0.1:{self.upstream_port}{path}", json=payload,
                                    timeout=10)
        response.raise_for_status()
        return response.json()

    def alb_data(self, index: int, ttl: int = 4 * 3600) -> str:
        sub, name = user(index)
        exp = int(time.time()) + ttl
        return alb_token.sign(
            alb_token.alb_header(kid=self.kid, issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT_ID,
                                 signer=ALB_ARN, exp=exp),
            alb_token.alb_payload(sub=sub, username=name, email=f"{name}@example.com",
                                  issuer=COGNITO_ISSUER, exp=exp),
            self.private_key)

    def pid(self, name: str) -> int:
        if name == "upstream":
            return self.upstream_proc.pid
        if name == "redis":
            return self.redis.pid
        return self.services[name].pid

    def url(self, name: str) -> str:
        return self.services[name].url

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()
        if self.redis:
            self.redis.stop()
        if self.upstream_proc and self.upstream_proc.poll() is None:
            self.upstream_proc.terminate()
            try:
                self.upstream_proc.wait(5)
            except subprocess.TimeoutExpired:
                self.upstream_proc.kill()
                self.upstream_proc.wait(5)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return self.services[name].log_text()[-chars:]


def start_upstream(tokens: int, rate: float, *, first_token_delay: float = 0.0, key_file: Path | None = None,
                   stderr=None) -> tuple[subprocess.Popen, int]:
    """The bench upstream (bench.upstream) on a free loopback port: its process and the port."""
    args = [sys.executable, "-m", "bench.upstream", "--port", "0", "--tokens", str(tokens), "--rate", str(rate),
            "--first-token-delay", str(first_token_delay)] + (["--key-file", str(key_file)] if key_file else [])
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(15):
            proc.kill()
            raise RuntimeError("the bench upstream did not start")
    line = proc.stdout.readline().decode()
    match = re.search(r":(\d+)/v1", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"the bench upstream said {line!r}")
    return proc, int(match.group(1))


def private_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
