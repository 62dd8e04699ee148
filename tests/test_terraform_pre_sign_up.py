"""The Cognito pre sign-up trigger that keeps sign-up to the allowed email domains: its handler,
and the archive Terraform deploys, which must be built from exactly that handler."""
from __future__ import annotations

import importlib.util
import io
import zipfile

import pytest

from terraform.scripts.build_pre_sign_up import ARCHIVE, SOURCE, build


@pytest.fixture
def trigger(monkeypatch):
    monkeypatch.setenv("ALLOWED_EMAIL_DOMAINS", "example.com, Example.co.jp ")
    spec = importlib.util.spec_from_file_location("pre_sign_up_handler", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sign_up(email: str, source: str = "PreSignUp_SignUp") -> dict:
    return {"triggerSource": source, "request": {"userAttributes": {"email": email}}, "response": {}}


def test_addresses_in_the_allowed_domains_may_sign_up(trigger):
    for email in ("ann@example.com", "Bob@EXAMPLE.com", "chie@example.co.jp"):
        event = sign_up(email)
        assert trigger.handler(event, None) is event


@pytest.mark.parametrize("email", ["eve@evil.com", "eve@sub.example.com", "eve@example.com.evil.com",
                                   "example.com", "@example.com", "", "eve@example.comm"])
def test_other_addresses_are_refused_with_a_clear_message(trigger, email):
    with pytest.raises(trigger.SignUpRefused, match="addresses of this organisation only"):
        trigger.handler(sign_up(email), None)


def test_external_identity_providers_are_checked_too_and_administrators_may_invite_anyone(trigger):
    with pytest.raises(trigger.SignUpRefused):
        trigger.handler(sign_up("eve@evil.com", "PreSignUp_ExternalProvider"), None)
    invited = sign_up("guest@partner.org", "PreSignUp_AdminCreateUser")
    assert trigger.handler(invited, None) is invited


def test_the_deployed_archive_is_built_from_the_handler():
    assert ARCHIVE.read_bytes() == build(), "run: .venv/bin/python terraform/scripts/build_pre_sign_up.py"
    with zipfile.ZipFile(io.BytesIO(ARCHIVE.read_bytes())) as archive:
        assert archive.namelist() == ["handler.py"]
        assert archive.read("handler.py") == SOURCE.read_bytes()
