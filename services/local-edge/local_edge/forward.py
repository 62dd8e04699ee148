"""`/api/*` (and `/v1/*`) to the auth-proxy, with the identity header the ALB would add."""
from __future__ import annotations

import secrets
import time
from urllib.parse import quote

from flask import Blueprint, current_app, g, request

from rolechat_common import proxy
from rolechat_common.identity import REQUEST_ID_HEADER
from rolechat_common.web import read_body

from . import alb_token
from .config import Config
from .keys import SigningKey
from .signin import signed_in_user

bp = Blueprint("forward", __name__)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Not passed on: hop-by-hop headers, what the HTTP client sets itself, our own session cookie,
# and anything a client could use to pose as the load balancer.
_DROPPED = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
            "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "expect", "cookie",
            "x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-host",
            "x-amzn-trace-id"}
_ALB_PREFIX = "x-amzn-oidc-"
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
VISITOR_COOKIE = "rolechat_visitor"





def _identity_headers() -> dict[str, str]:
    """The three headers the ALB adds for a signed-in user; none for anyone else."""
    user = signed_in_user()
    if user is None:
        return {}
    sub, username = user
    config: Config = current_app.config["EDGE"]
    key: SigningKey = current_app.extensions["edge.key"]
    exp = int(time.time()) + config.token_ttl_seconds
    header = alb_token.alb_header(kid=key.kid, issuer=config.cognito_issuer, client_id=config.cognito_client_id,
                                  signer=config.alb_arn, exp=exp)
    payload = alb_token.alb_payload(sub=sub, username=username, email=f"{username}@users.rolechat.local",
                                    issuer=config.cognito_issuer, exp=exp)
    return {
        "x-amzn-oidc-data": alb_token.sign(header, payload, key.private_key),
        "x-amzn-oidc-identity": sub,
        "x-amzn-oidc-accesstoken": secrets.token_urlsafe(32),
    }


def _forward(*, sign_in: bool):
    config: Config = current_app.config["EDGE"]
    headers = {name: value for name, value in request.headers.items()
               if name.lower() not in _DROPPED and not name.lower().startswith(_ALB_PREFIX)}
    headers[REQUEST_ID_HEADER] = g.request_id
    headers["X-Forwarded-For"] = request.remote_addr or ""
    headers["X-Forwarded-Proto"] = request.scheme
    visitor = request.cookies.get(VISITOR_COOKIE)
    if visitor is not None:  # a bot page's anonymous visitor: the one cookie the auth-proxy reads
        headers["Cookie"] = f"{VISITOR_COOKIE}={visitor}"
    if sign_in:
        headers.update(_identity_headers())
    url = config.auth_proxy_url + quote(request.path, safe=_PATH_SAFE)
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    body = read_body(config.max_body_bytes) or None
    return proxy.forward(current_app.extensions["edge.http"], request.method, url, headers,
                                           body, request.environ, read_timeout=config.proxy_read_timeout_seconds)


@bp.route("/api", defaults={"rest": ""}, methods=METHODS, provide_automatic_options=False)
@bp.route("/api/<path:rest>", methods=METHODS, provide_automatic_options=False)
def api(rest: str):
    return _forward(sign_in=True)


@bp.route("/v1/<path:rest>", methods=METHODS, provide_automatic_options=False)
def openai_compatible(rest: str):
    """In AWS /v1/* reaches the ALB without Cognito sign-in (API keys); so no identity here either."""
    return _forward(sign_in=False)
