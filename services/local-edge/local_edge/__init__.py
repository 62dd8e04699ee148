"""rolechat local edge: the local stand-in for CloudFront + ALB + the Cognito sign-in page.

It serves the built front end, signs users in with a plain username, and forwards `/api/*` to the
auth-proxy with the `x-amzn-oidc-data` header signed exactly as the ALB signs it, so the
auth-proxy runs the same verification locally as in AWS.
"""
from __future__ import annotations

from datetime import timedelta

import urllib3
from flask import Flask, Response, request

from rolechat_common import logs, proxy, web

from .config import Config
from .keys import load_or_create

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# A published bot's page (/b/<slug>) may be embedded in its owner's site (the iframe snippet).
EMBEDDABLE_CSP = SECURITY_HEADERS["Content-Security-Policy"].replace("frame-ancestors 'none'", "frame-ancestors *")


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logs.configure("local-edge", config.log_level)
    app = Flask(__name__, static_folder=None)
    app.url_map.merge_slashes = False  # pass paths on as they came, like a load balancer
    app.config.update(
        EDGE=config,
        SECRET_KEY=config.session_secret,
        SESSION_COOKIE_NAME="rolechat_session",
        # Only sign-in sets the cookie: a request still in flight when the user signs out must not
        # bring the session back by refreshing it on its way out.
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # the local stack is plain http on localhost
        PERMANENT_SESSION_LIFETIME=timedelta(days=config.session_days),
        MAX_CONTENT_LENGTH=config.max_body_bytes,
    )
    app.extensions["edge.key"] = load_or_create(config.data_dir)
    http = proxy.pool()
    app.extensions["edge.http"] = http

    def ready():
        try:
            response = http.request("GET", f"{config.auth_proxy_url}/healthz", redirect=False,
                                    timeout=urllib3.Timeout(connect=2.0, read=2.0))
        except urllib3.exceptions.HTTPError:
            yield "auth-proxy is unreachable"
            return
        if response.status != 200:
            yield f"auth-proxy answered {response.status}"

    web.install(app, "local-edge", identity_secret=None, ready=ready)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        if request.path.startswith("/b/"):
            response.headers["Content-Security-Policy"] = EMBEDDABLE_CSP
        return response

    from . import forward, signin, site
    app.register_blueprint(signin.bp)
    app.register_blueprint(forward.bp)
    app.register_blueprint(site.bp)
    return app
