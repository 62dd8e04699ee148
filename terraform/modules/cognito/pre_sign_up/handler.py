"""Cognito pre sign-up trigger: only addresses in the allowed email domains may sign up.

ALLOWED_EMAIL_DOMAINS is a comma-separated list (e.g. "example.com,example.co.jp"); a subdomain
does not match its parent. Administrators creating users are not stopped (they choose whom to
invite); self sign-up and sign-up through an external identity provider are.
"""
import os


class SignUpRefused(Exception):
    """Cognito shows the message to the person signing up."""


def allowed_domains() -> set[str]:
    return {d.strip().lower() for d in os.environ.get("ALLOWED_EMAIL_DOMAINS", "").split(",") if d.strip()}


def handler(event, context):
    if event.get("triggerSource") == "PreSignUp_AdminCreateUser":
        return event
    email = str((event.get("request") or {}).get("userAttributes", {}).get("email", "")).strip().lower()
    local, _, domain = email.rpartition("@")
    if not local or domain not in allowed_domains():
        raise SignUpRefused("Sign-up is open to addresses of this organisation only.")
    return event
