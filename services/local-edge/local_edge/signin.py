"""Local sign-in (a stand-in for the Cognito hosted UI) and the ALB's public key endpoint."""
from __future__ import annotations

import re
import uuid

from flask import Blueprint, Response, current_app, session

from rolechat_common.web import ApiError, json_body

from .keys import SigningKey

bp = Blueprint("signin", __name__)
USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Fixed forever: the same username is the same user id across restarts and machines.
USER_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5e7f-9c0d-1a2b3c4d5e6f")


def user_id_for(username: str) -> str:
    return str(uuid.uuid5(USER_NAMESPACE, username))


def signed_in_user() -> tuple[str, str] | None:
    """(user id, username) of the signed-in user, or None."""
    username = session.get("username")
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        return None
    return user_id_for(username), username


@bp.post("/local/login")
def login():
    username = json_body().get("username")
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise ApiError(400, "invalid_username",
                       "A username is 1 to 64 letters, digits, dots, underscores or hyphens.")
    session.clear()
    session["username"] = username
    session.permanent = True
    return "", 204


@bp.post("/local/logout")
def logout():
    session.clear()  # Flask then sends a Set-Cookie that expires the session cookie
    return "", 204


@bp.get("/alb-keys/<path:kid>")
def alb_key(kid: str):
    key: SigningKey = current_app.extensions["edge.key"]
    if kid != key.kid:
        raise ApiError(404, "not_found", "No such key.")
    return Response(key.public_pem, mimetype="text/plain")
