"""rolechat auth-proxy: the one way in. Verifies the ALB's signed identity, forwards with an internal one."""
from __future__ import annotations

import json
from importlib import resources

import urllib3
import yaml
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from rolechat_common import logs, proxy, web
from rolechat_common.config import redis_client
from rolechat_common.limits import Limiter

from .alb import AlbVerifier
from .cognito import CognitoAccessTokens
from .config import Config
from .keys import KeyStore


def load_openapi() -> dict:
    return yaml.safe_load(resources.files(__name__).joinpath("openapi.yaml").read_text(encoding="utf-8"))


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure("auth-proxy", config.log_level)
    app = Flask(__name__)
    app.url_map.merge_slashes = False  # "/api//x" is an unknown route (404), not a redirect
    app.config["AUTH_PROXY"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes

    keys = KeyStore(config.alb_key_url, timeout=config.key_fetch_timeout_seconds,
                    min_interval=config.unknown_kid_fetch_interval_seconds)
    http = proxy.pool()
    app.extensions["auth_proxy.keys"] = keys
    app.extensions["auth_proxy.verifier"] = AlbVerifier(
        keys, alb_arn=config.alb_arn, issuer=config.cognito_issuer, client_id=config.cognito_client_id,
        leeway=config.alb_token_leeway_seconds)
    app.extensions["auth_proxy.access_tokens"] = CognitoAccessTokens(
        config.cognito_jwks_url, issuer=config.cognito_issuer, client_ids=config.cognito_api_client_ids,
        leeway=config.alb_token_leeway_seconds, timeout=config.key_fetch_timeout_seconds,
        min_interval=config.unknown_kid_fetch_interval_seconds) if config.cognito_api_client_ids else None
    app.extensions["auth_proxy.http"] = http
    # Limits must not add a noticeable wait, and a stalled (or absent) Redis must not stall the API.
    app.extensions["auth_proxy.limiter"] = Limiter(connect=lambda: redis_client(
        config.redis_url, config.redis_cluster, max_connections=config.redis_max_connections,
        socket_timeout=0.5, socket_connect_timeout=0.5))
    if config.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_hops, x_proto=0, x_host=0, x_port=0,
                                x_prefix=0)
    app.extensions["auth_proxy.openapi"] = json.dumps(load_openapi(), ensure_ascii=False).encode()

    def ready():
        for name, base in (("chat", config.chat_url), ("memory", config.memory_url)):
            try:
                response = http.request("GET", f"{base}/healthz", redirect=False,
                                        timeout=urllib3.Timeout(connect=2.0, read=2.0))
            except urllib3.exceptions.HTTPError:
                yield f"{name} is unreachable"
                continue
            if response.status != 200:
                yield f"{name} answered {response.status}"

    web.install(app, "auth-proxy", identity_secret=None, ready=ready)

    from .views import bp
    app.register_blueprint(bp)
    return app
