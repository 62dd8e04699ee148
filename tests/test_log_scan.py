"""The logs hold no secret: no upstream API key, token, cookie, signing secret or Authorization header.

The root conftest.py runs this file after every other test, so it scans every stack log the whole
session wrote: the fault drills' own stacks (killed, restarted and drained ones included), the
fuzzed, limited and bot stacks, the services' own live tests, and the shared stack. It first sends the shared stack the kinds of requests a careless
log line would leak: a sign-in, a turn, a provider error quoting the API key, forged tokens in
every header that carries one, and a forged session cookie.
"""
from __future__ import annotations

import re
from pathlib import Path

import requests
from local_edge import alb_token
from rolechat_common.identity import IDENTITY_HEADER, Identity, mint

from tests.support.processes import TEST_SECRET
from tests.support.sse import parse_sse
from tests.support.stack import ALB_ARN, COGNITO_CLIENT_ID, COGNITO_ISSUER, UPSTREAM_KEY

COOKIE = "rolechat_session"
PATTERNS = {
    "the upstream API key": re.compile(re.escape(UPSTREAM_KEY)),
    "the internal identity secret": re.compile(re.escape(TEST_SECRET)),
    # Only where a credential starts: ids are url-safe random text, so "sk-"/"eyJ" turn up inside them.
    "an API key (sk-...)": re.compile(r"(?:^|[\s\"'=:,(\[])sk-[A-Za-z0-9_-]{12,}"),
    "a JWT or signed cookie (eyJ...)": re.compile(r"(?:^|[\s\"'=:,(\[])eyJ[A-Za-z0-9_=-]{8,}"),
    "an Authorization header": re.compile(r"authorization[\"':=\s]{1,6}bearer", re.IGNORECASE),
    "a bearer credential": re.compile(r"bearer\s+(?:sk-|eyJ)", re.IGNORECASE),
    "the session cookie": re.compile(re.escape(COOKIE) + r"\s*="),
    "a private key": re.compile(r"PRIVATE KEY"),
}


def stack_logs(root: Path) -> list[Path]:
    """Every service and Redis log of every stack under `root` (each stack writes `logs/*.log`)."""
    return sorted(p for p in root.rglob("logs/*.log") if p.is_file())


def leaks(paths: list[Path], exact: dict[str, str]) -> list[str]:
    """'file:line: what' for every secret found (the secret itself is not repeated)."""
    patterns = dict(PATTERNS)
    patterns.update({what: re.compile(re.escape(value)) for what, value in exact.items() if value})
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for what, pattern in patterns.items():
                if pattern.search(line):
                    found.append(f"{path.parent.parent.name}/{path.name}:{number}: {what}")
    return found


def stack_secrets(stack) -> dict[str, str]:
    """The secret settings the stack's services were started with."""
    secrets = {}
    for service in stack.services.values():
        for name, value in service.env.items():
            if any(word in name for word in ("SECRET", "API_KEY", "PASSWORD", "TOKEN")) and len(value) >= 8:
                secrets[f"{name} of {service.name}"] = value
    return secrets


def test_secret_bearing_requests_leave_no_secret_in_the_logs(stack, fake):
    session = stack.login("logscan")
    cookie = session.cookies.get(COOKIE)
    assert cookie, "the sign-in set the session cookie"
    assert session.get(f"{stack.edge}/api/me", timeout=5).status_code == 200
    cid = session.post(f"{stack.edge}/api/conversations", json={}, timeout=5).json()["id"]
    turn = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "hello"}, timeout=30)
    assert parse_sse(turn.content)[-1].kind == "done"

    # The provider refuses the key and quotes it, as OpenAI's 401 does.
    fake.configure(fail_status=401, fail_message=f"Incorrect API key provided: {UPSTREAM_KEY}.")
    refused = session.post(f"{stack.edge}/api/conversations/{cid}/messages", json={"content": "again"}, timeout=30)
    error = parse_sse(refused.content)[-1]
    assert error.kind == "error" and UPSTREAM_KEY not in error.data["message"]
    fake.reset()

    # Forged credentials in every header that carries one, at every service.
    other_key = alb_token.generate_key()
    header = alb_token.alb_header(kid=alb_token.new_kid(), issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT_ID,
                                  signer=ALB_ARN, exp=2_000_000_000)
    payload = alb_token.alb_payload(sub="intruder", username="intruder", email="i@example.com",
                                    issuer=COGNITO_ISSUER, exp=2_000_000_000)
    forged_alb = alb_token.sign(header, payload, other_key)
    forged_internal = mint(Identity("intruder", "intruder"), "not-the-secret-" + "x" * 32, "auth-proxy")
    proxy = stack.url("auth-proxy")
    assert requests.get(f"{proxy}/api/me", headers={"x-amzn-oidc-data": forged_alb}, timeout=5).status_code == 401
    assert requests.get(f"{proxy}/api/me", headers={"Authorization": f"Bearer {forged_alb}"},
                        timeout=5).status_code == 401
    assert requests.get(f"{proxy}/api/me", headers={"Authorization": f"Bearer {UPSTREAM_KEY}"},
                        timeout=5).status_code == 401
    for name in ("chat", "memory"):
        response = requests.get(f"{stack.url(name)}/api/conversations/{cid}",
                                headers={IDENTITY_HEADER: forged_internal}, timeout=5)
        assert response.status_code == 401, name
    stolen = requests.get(f"{stack.edge}/api/me", cookies={COOKIE: cookie + "x"}, timeout=5)
    assert stolen.status_code == 401
    assert session.post(f"{stack.edge}/local/logout", timeout=5).status_code == 204

    paths = stack_logs(stack.workdir)
    assert {p.name for p in paths} >= {"memory.log", "chat.log", "auth-proxy.log", "local-edge.log"}
    assert all(p.stat().st_size > 0 for p in paths if not p.name.startswith("redis")), "logs to scan"
    assert "authentication refused" in stack.logs(), "the refusals were logged (without the tokens)"
    exact = {**stack_secrets(stack), "the session cookie's value": cookie, "a forged ALB token": forged_alb,
             "a forged internal identity": forged_internal}
    assert leaks(paths, exact) == []


def test_no_stack_log_of_the_session_holds_a_secret(stack, tmp_path_factory):
    root = tmp_path_factory.getbasetemp()
    paths = stack_logs(root)
    assert set(stack_logs(stack.workdir)) <= set(paths)
    assert sum(p.stat().st_size for p in paths) > 0, "logs to scan"
    drills = {p.parent.parent.name for p in paths if p.parent.parent.name.startswith("faults-")}
    scanned = f"{len(paths)} logs of {len({p.parent for p in paths})} stacks (drills: {sorted(drills)})"
    assert leaks(paths, stack_secrets(stack)) == [], scanned


def test_the_scan_finds_credentials_but_not_ids_that_happen_to_contain_their_prefix(tmp_path):
    log = tmp_path / "logs" / "chat.log"
    log.parent.mkdir()
    lines = [
        '{"path": "/api/conversations/c_Qsk-4fJ9d0aZk2LmPq8Rt", "status": 200}',
        '{"path": "/api/conversations/c_xeyJhbGciOiJIUzI1NiJ9", "status": 404}',
        'upstream refused: "sk-live-abcdefghijklmnop"',
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ]
    log.write_text("\n".join(lines) + "\n")
    found = leaks(stack_logs(tmp_path), {})
    assert not any(":1:" in f or ":2:" in f for f in found), found
    assert any(f.endswith(":3: an API key (sk-...)") for f in found), found
    assert any(":4: a JWT or signed cookie" in f for f in found) and any(":4: a bearer credential" in f for f in found)
