"""terraform/ agrees with the services and the local stack: every setting a service reads is set in
its task definition (environment or secrets) and in docker-compose.yml; ports, target group and
Service Connect names match; secrets go by ARN only; the security-group graph is exactly
CloudFront -> ALB -> auth-proxy -> chat -> memory -> Redis (auth-proxy -> memory too); sign-out
expires the ALB session; the README's variable table is current."""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_terraform_hcl import ROOT, TERRAFORM, module, unquote

SERVICES = {"auth-proxy": "auth_proxy", "chat": "chat", "memory": "memory"}  # local-edge/model: local only
ENV_METHODS = {"str", "optional", "int", "float", "url", "secret"}
SECRET_NAMES = {"INTERNAL_IDENTITY_SECRET", "OPENAI_API_KEY", "REDIS_URL"}


COMMON = ROOT / "libs" / "rolechat_common" / "rolechat_common"
# Settings the services read through shared helpers: the helper's name as called -> where it reads them.
SHARED_READERS = {"redis_settings": (COMMON / "config.py", "redis_settings"),
                  "from_env": (COMMON / "limits.py", "LimitPolicy")}


def env_reads(service: str) -> set[str]:
    """Variable names passed to Env methods (or to helpers taking the Env) in <pkg>/config.py, and
    in the shared helpers it calls (the Redis settings, the limits)."""
    tree = ast.parse((ROOT / "services" / service / SERVICES[service] / "config.py").read_text())
    names = _reads(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            owner = getattr(node.func.value, "id", "") if isinstance(node.func, ast.Attribute) else ""
            if called in SHARED_READERS and (called != "from_env" or owner == "LimitPolicy"):
                path, definition = SHARED_READERS[called]
                names |= _reads(next(n for n in ast.walk(ast.parse(path.read_text()))
                                     if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == definition))
                if definition == "LimitPolicy":  # its helper _limit(env, "NAME", ...) and _groups(...)
                    names |= _reads(ast.parse(path.read_text()))
    return names


def _reads(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in ENV_METHODS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "env":
            candidates = node.args[:1]  # env.int("NAME", default, ...)
        else:  # a helper taking the Env first: _positive(env, "NAME", default)
            positions = [i for i, a in enumerate(node.args) if isinstance(a, ast.Name) and a.id == "env"]
            candidates = node.args[positions[0] + 1:positions[0] + 2] if positions else []
        for arg in candidates:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", arg.value):
                names.add(arg.value)
    return names


def hcl_keys(expr) -> set[str]:
    if isinstance(expr, list):
        expr = expr[0]
    return {unquote(k) for k in expr if not k.startswith("__")}


@pytest.fixture(scope="module")
def ecs_call():
    return module(TERRAFORM).modules["ecs"]


@pytest.fixture(scope="module")
def task_settings(ecs_call):
    ecs = module(TERRAFORM / "modules" / "ecs")
    common = hcl_keys(ecs.locals["common_environment"]) | {"PORT", "LOG_LEVEL"}
    env = {unquote(k): hcl_keys(v) | common for k, v in ecs_call["environment"].items() if not k.startswith("__")}
    secrets = {unquote(k): hcl_keys(v) for k, v in ecs_call["secrets"].items() if not k.startswith("__")}
    return env, secrets


def test_config_parsing_finds_the_settings():
    assert {"CHAT_URL", "ALB_ARN", "ALB_KEY_URL", "COGNITO_ISSUER", "COGNITO_CLIENT_ID"} <= env_reads("auth-proxy")
    assert {"OPENAI_API_KEY", "SSE_HEARTBEAT_SECONDS", "MAX_STREAM_SECONDS"} <= env_reads("chat")
    assert {"REDIS_URL", "INTERNAL_IDENTITY_SECRET", "REDIS_MAX_CONNECTIONS", "DAILY_TOKEN_QUOTA"} <= env_reads("memory")
    assert {"REDIS_URL", "RATE_LIMIT_PER_MINUTE", "LIMITS_BY_GROUP"} <= env_reads("auth-proxy")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_setting_is_set_in_the_task_definition(service, task_settings):
    env, secrets = task_settings
    missing = env_reads(service) - env[service] - secrets[service]
    assert not missing, f"{service} reads {sorted(missing)} but its task definition does not set them"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_secrets_only_as_secrets_by_arn(service, task_settings, ecs_call):
    env, secrets = task_settings
    assert not (env[service] & SECRET_NAMES), f"{service} gets a secret as a plain environment value"
    assert secrets[service] <= SECRET_NAMES
    values = ecs_call["secrets"][service] if service in ecs_call["secrets"] else ecs_call["secrets"][f'"{service}"']
    for name, ref in values.items():
        if not name.startswith("__"):
            assert re.fullmatch(r"\$\{module\.(secrets|redis)\.\w+_secret_arn\}", ref), (name, ref)
    task = (TERRAFORM / "modules" / "ecs" / "main.tf").read_text()
    assert "valueFrom = arn" in task


# Settings that docker-compose.yml does not spell out yet (the services' defaults apply there).
# A new setting missing from compose fails at once; shrink this list as compose catches up.
COMPOSE_GAPS = {
    "chat": {"MAX_HISTORY_MESSAGES", "MAX_BODY_BYTES", "MODELS_CACHE_SECONDS", "MEMORY_TIMEOUT_SECONDS",
             "CONTEXT_SUMMARIES", "CONTEXT_MARGIN_TOKENS", "PINS_MAX_SHARE", "SUMMARY_REFRESH_MESSAGES",
             "DEFAULT_CONTEXT_WINDOW"},
    "auth-proxy": {"PROXY_READ_TIMEOUT_SECONDS", "COGNITO_API_CLIENT_IDS", "COGNITO_JWKS_URL"},
    "memory": {"MAX_PINS_PER_CONVERSATION", "MAX_PIN_CHARS", "SEARCH_MAX_CONVERSATIONS",
               "SEARCH_MESSAGES_PER_CONVERSATION"},
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_setting_is_set_in_docker_compose(service):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = set(compose["services"][service]["environment"])
    missing = env_reads(service) - environment
    assert missing <= COMPOSE_GAPS[service], (
        f"{service}: missing from docker-compose.yml {sorted(missing)}; known gaps {sorted(COMPOSE_GAPS[service])}")


def test_ports_match_compose_dockerfiles_target_group_and_service_connect():
    root = module(TERRAFORM)
    ports = {unquote(k): int(v) for k, v in root.locals["ports"].items()}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service, port in ports.items():
        assert compose["services"][service]["environment"]["PORT"] == str(port)
        assert f"EXPOSE {port}" in (ROOT / "services" / service / "Dockerfile").read_text()
    alb_call = root.modules["alb"]
    assert alb_call["target_port"] == '${local.ports["auth-proxy"]}'
    ecs = (TERRAFORM / "modules" / "ecs" / "main.tf").read_text()
    assert "discovery_name = each.key" in ecs and "dns_name = each.key" in ecs
    assert "port     = var.ports[each.key]" in ecs and "containerPort = var.ports[each.key]" in ecs
    assert "container_port   = var.ports[each.key]" in ecs
    env = root.modules["ecs"]["environment"]
    assert unquote(env["auth-proxy"]["CHAT_URL"]) == 'http://chat:${local.ports["chat"]}'
    assert unquote(env["auth-proxy"]["MEMORY_URL"]) == 'http://memory:${local.ports["memory"]}'
    assert unquote(env["chat"]["MEMORY_URL"]) == 'http://memory:${local.ports["memory"]}'
    assert compose["services"]["auth-proxy"]["environment"]["CHAT_URL"] == f"http://chat:{ports['chat']}"
    assert sorted(ports) == sorted(SERVICES)


def test_alb_identity_settings_are_wired():
    env = module(TERRAFORM).modules["ecs"]["environment"]["auth-proxy"]
    assert env["ALB_ARN"] == "${module.alb.arn}"
    assert unquote(env["ALB_KEY_URL"]) == "https://public-keys.auth.elb.${var.region}.amazonaws.com"
    assert env["COGNITO_ISSUER"] == "${module.cognito.issuer}"
    assert env["COGNITO_CLIENT_ID"] == "${module.cognito.client_id}"
    issuer = module(TERRAFORM / "modules" / "cognito").outputs["issuer"]["value"]
    assert issuer == '"https://cognito-idp.${data.aws_region.current.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"'


def test_security_group_graph_is_exactly_the_intended_one():
    net = module(TERRAFORM / "modules" / "network")
    paths = {(unquote(v["from"]), unquote(v["to"])) for v in net.locals["service_paths"].values()}
    assert paths == {("alb", "auth-proxy"), ("auth-proxy", "chat"), ("auth-proxy", "memory"),
                     ("chat", "memory"), ("memory", "redis"), ("auth-proxy", "redis")}  # limits: auth-proxy
    ingress = {name: body for (rtype, name), (body, _) in net.resources.items()
               if rtype == "aws_vpc_security_group_ingress_rule"}
    assert set(ingress) == {"alb_from_cloudfront", "path", "endpoints_from_tasks"}
    cloudfront = ingress["alb_from_cloudfront"]
    assert cloudfront["security_group_id"] == '${aws_security_group.this["alb"].id}'
    assert cloudfront["prefix_list_id"] == "${data.aws_ec2_managed_prefix_list.cloudfront.id}"
    assert (cloudfront["from_port"], cloudfront["to_port"]) == (443, 443)
    assert "cidr_ipv4" not in cloudfront and "referenced_security_group_id" not in cloudfront
    prefix = net.data[("aws_ec2_managed_prefix_list", "cloudfront")][0]
    assert unquote(prefix["name"]) == "com.amazonaws.global.cloudfront.origin-facing"
    path = ingress["path"]
    assert path["for_each"] == "${local.service_paths}"
    assert path["security_group_id"] == "${aws_security_group.this[each.value.to].id}"
    assert path["referenced_security_group_id"] == "${aws_security_group.this[each.value.from].id}"
    assert "cidr_ipv4" not in path
    # nothing else admits traffic: no inline ingress, no other ingress rules anywhere
    text = "\n".join(p.read_text() for p in TERRAFORM.rglob("*.tf"))
    assert text.count('resource "aws_vpc_security_group_ingress_rule"') == 3
    assert not re.search(r"^\s*ingress\s*\{", text, re.M)
    assert 'resource "aws_security_group_rule"' not in text
    # the groups are used where they belong
    root = module(TERRAFORM)
    assert root.modules["alb"]["security_group_id"] == '${module.network.security_group_ids["alb"]}'
    assert root.modules["redis"]["security_group_id"] == '${module.network.security_group_ids["redis"]}'
    ecs = (TERRAFORM / "modules" / "ecs" / "main.tf").read_text()
    assert "security_groups  = [var.security_group_ids[each.key]]" in ecs


def test_streaming_timeouts_line_up():
    alb = module(TERRAFORM / "modules" / "alb")
    idle = int(alb.locals["idle_timeout"])
    assert 10 < idle < 75  # above chat's 10 s heartbeat, below gunicorn's 75 s keep-alive
    root = module(TERRAFORM)
    assert root.modules["alb"]["deregistration_delay"] == "${var.max_stream_seconds + 60}"
    ecs = module(TERRAFORM / "modules" / "ecs")
    assert int(ecs.locals["stop_timeout"]) == 120 and int(ecs.locals["graceful_timeout"]) < 120
    assert unquote(ecs.locals["common_environment"]["KEEPALIVE_SECONDS"]) == "75"
    edge = (TERRAFORM / "modules" / "edge" / "main.tf").read_text()
    assert re.search(r"origin_read_timeout\s*=\s*60", edge)
    service = ecs.resources[("aws_ecs_service", "this")][0]
    breaker = service["deployment_circuit_breaker"][0]
    assert breaker["enable"] is True and breaker["rollback"] is True


def test_listener_rules_deny_api_and_authenticate_pages():
    alb = module(TERRAFORM / "modules" / "alb")
    modes = {}
    for name in ("api", "oauth2"):
        rule = alb.resources[("aws_lb_listener_rule", name)][0]
        pattern = rule["condition"][0]["path_pattern"][0]["values"]
        first = rule["action"][0]
        assert unquote(first["type"]) == "authenticate-cognito"
        modes[unquote(pattern[0])] = unquote(first["authenticate_cognito"][0]["on_unauthenticated_request"])
    assert modes == {"/api/*": "deny", "/oauth2/*": "authenticate"}
    listeners = [k for k in alb.resources if k[0] == "aws_lb_listener"]
    assert listeners == [("aws_lb_listener", "https")]
    assert unquote(alb.resources[listeners[0]][0]["protocol"]) == "HTTPS"
    rules = {name for kind, name in alb.resources if kind == "aws_lb_listener_rule"}
    assert rules == {"api", "oauth2", "published_bots", "bearer_api"}, "no other way past sign-in"
    # without sign-in only with a bearer token, which the auth-proxy verifies (RS256, iss, token_use, client_id)
    bearer = alb.resources[("aws_lb_listener_rule", "bearer_api")][0]
    conditions = {next(iter(c)): c[next(iter(c))][0] for c in bearer["condition"]}
    assert [unquote(v) for v in conditions["path_pattern"]["values"]] == ["/api/*"]
    assert unquote(conditions["http_header"]["http_header_name"]) == "Authorization"
    assert [unquote(v) for v in conditions["http_header"]["values"]] == ["Bearer *"]
    assert [unquote(a["type"]) for a in bearer["action"]] == ["forward"]


def test_only_the_published_bots_routes_skip_sign_in_and_they_come_first():
    from auth_proxy.routing import API_KEY, ROUTES, VISITOR

    alb = module(TERRAFORM / "modules" / "alb")
    rule = alb.resources[("aws_lb_listener_rule", "published_bots")][0]
    patterns = [unquote(v) for v in rule["condition"][0]["path_pattern"][0]["values"]]
    assert [unquote(a["type"]) for a in rule["action"]] == ["forward"]
    assert rule["priority"] < alb.resources[("aws_lb_listener_rule", "api")][0]["priority"]
    open_routes = [r.path for r in ROUTES if r.auth in (VISITOR, API_KEY)]
    assert all(any(path.startswith(p.rstrip("*")) for p in patterns) for path in open_routes), open_routes
    signed_in = [r.path for r in ROUTES if r.auth not in (VISITOR, API_KEY)]
    assert not any(path.startswith(p.rstrip("*")) for p in patterns for path in signed_in)
    edge = (TERRAFORM / "modules" / "edge" / "main.tf").read_text()
    assert '"/v1/*"' in edge and 'path_pattern               = "/b/*"' in edge


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_logout_function_expires_alb_cookies_and_calls_cognito(tmp_path):
    template = (TERRAFORM / "modules" / "edge" / "logout.js.tftpl").read_text()
    logout = "https://x.auth.eu-west-1.amazoncognito.com/logout?client_id=abc&logout_uri=https%3A%2F%2Fchat.example.com%2F"
    code = template.replace("${cognito_logout_url}", logout).replace("${session_cookie}", "AWSELBAuthSessionCookie")
    assert "${" not in code
    script = tmp_path / "run.js"
    script.write_text(code + "\nconsole.log(JSON.stringify(handler({request: {uri: '/oauth2/logout'}})));\n")
    response = json.loads(subprocess.run(["node", str(script)], check=True, capture_output=True, text=True).stdout)
    assert response["statusCode"] == 302
    assert response["headers"]["location"]["value"] == logout
    assert set(response["cookies"]) == {f"AWSELBAuthSessionCookie-{i}" for i in range(4)}
    for cookie in response["cookies"].values():
        assert cookie["value"] == "" and "Max-Age=0" in cookie["attributes"] and "Path=/" in cookie["attributes"]
    cognito = module(TERRAFORM / "modules" / "cognito")
    client = cognito.resources[("aws_cognito_user_pool_client", "alb")][0]
    assert [unquote(u) for u in client["logout_urls"]] == ['https://${var.domain_name}/']
    assert "/logout?client_id=" in cognito.outputs["logout_url"]["value"]


def test_frontend_config_comes_from_outputs():
    edge = module(TERRAFORM / "modules" / "edge")
    config = edge.locals["frontend_config"]
    assert unquote(config["auth"]) == "cognito"
    assert unquote(config["loginUrl"]) == "https://${var.domain_name}/oauth2/login"
    assert unquote(config["logoutUrl"]) == "https://${var.domain_name}/oauth2/logout"
    obj = edge.resources[("aws_s3_object", "config")][0]
    assert obj["content"] == "${jsonencode(local.frontend_config)}"


def test_each_task_reads_only_its_own_secrets():
    iam_call = module(TERRAFORM).modules["iam"]
    ecs_secrets = module(TERRAFORM).modules["ecs"]["secrets"]
    for service in SERVICES:
        allowed = set(iam_call["secret_arns"][service]) if isinstance(iam_call["secret_arns"][service], list) else set()
        used = {v for k, v in ecs_secrets[service].items() if not k.startswith("__")}
        assert allowed == used, (service, allowed, used)
    policy = (TERRAFORM / "modules" / "iam" / "main.tf").read_text()
    assert re.search(r'actions\s*=\s*\["secretsmanager:GetSecretValue"\]\s*\n\s*resources\s*=\s*each.value', policy)


def test_readme_variable_table_is_current():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("variables_table", TERRAFORM / "scripts" / "variables_table.py")
    generator = module_from_spec(spec)
    spec.loader.exec_module(generator)
    readme = (ROOT / "README.md").read_text()
    assert generator.START in readme, "README.md lacks the generated Terraform variables table"
    current = readme.split(generator.START, 1)[1].split(generator.END, 1)[0].strip()
    assert current == generator.table(), "stale: run .venv/bin/python terraform/scripts/variables_table.py --write"
