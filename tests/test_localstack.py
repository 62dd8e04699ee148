"""scripts/localstack.py: the pure layer (interpolation, order, rewriting, planning) and `check`.
No process is started here."""
import importlib.util
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("localstack", ROOT / "scripts" / "localstack.py")
ls = importlib.util.module_from_spec(_spec)
sys.modules["localstack"] = ls  # dataclasses look their module up by name
_spec.loader.exec_module(ls)

COMPOSE = """
services:
  db:
    image: redis:7-alpine
    command: redis-server --port 6390 --dir /data
    healthcheck: {test: ["CMD", "redis-cli", "-p", "6390", "ping"], interval: 2s, retries: 4}
    x-local: {paths: {/data: .local/db}, args: [--bind, 127.0.0.1]}
  api:
    command: gunicorn -c python:conf 'api:create_app()'
    environment:
      PORT: "9001"
      HOST: 0.0.0.0
      DB_URL: redis://db:6390/0
      SECRET: ${API_SECRET:?set it}
      MODEL_URL: ${MODEL_URL:-http://llm:8090/v1}
      DEBUG: false
    healthcheck:
      test: ["CMD", "python", "-c", "print('ok')"]
      interval: 1m30s
      timeout: 500ms
      start_period: 5m
    stop_grace_period: 20s
    depends_on:
      db: {condition: service_healthy}
      llm: {condition: service_healthy, required: false}
    x-local: {environment: {HOST: 127.0.0.1}}
  llm:
    profiles: [local-model]
    command: python -m llm_server
  web:
    command: ["gunicorn", "web:app"]
    environment: ["PORT=9000", "API_URL=http://api:9001", "FROM_SHELL"]
    depends_on: [api]
"""


def test_interpolation_follows_compose():
    env = {"SET": "v", "EMPTY": ""}
    cases = {
        "${SET}": "v", "$SET/x": "v/x", "${UNSET}": "", "$$SET": "$SET", "a$${b}": "a${b}",
        "${UNSET:-d}": "d", "${EMPTY:-d}": "d", "${EMPTY-d}": "", "${UNSET-d}": "d", "${SET:-d}": "v",
        "${SET:+alt}": "alt", "${EMPTY:+alt}": "", "${EMPTY+alt}": "alt", "${UNSET+alt}": "",
        "${UNSET:-${SET}-x}": "v-x", "${UNSET:-http://h:1/v1}": "http://h:1/v1", "${EMPTY?fine}": "",
    }
    for text, expected in cases.items():
        assert ls.interpolate(text, env) == expected, text


@pytest.mark.parametrize("text", ["${UNSET:?set it}", "${EMPTY:?set it}", "${UNSET?set it}"])
def test_required_variables_fail_with_their_name(text):
    with pytest.raises(ls.StackError, match=r"(UNSET|EMPTY) is missing a value: set it"):
        ls.interpolate(text, {"EMPTY": ""})


@pytest.mark.parametrize("text", ["${UNCLOSED", "$1", "${no spaces allowed}"])
def test_malformed_interpolation_is_an_error(text):
    with pytest.raises(ls.StackError):
        ls.interpolate(text, {})


def test_rewrite_hosts_changes_only_service_host_names():
    names = ["redis", "auth-proxy", "chat"]
    assert ls.rewrite_hosts("redis://redis:6390/0", names) == "redis://127.0.0.1:6390/0"
    assert ls.rewrite_hosts("redis://:pw@redis:6390", names) == "redis://:pw@127.0.0.1:6390"
    assert ls.rewrite_hosts("http://auth-proxy:8081", names) == "http://127.0.0.1:8081"
    for untouched in ["http://chatty.example:1", "https://api.openai.com/v1", "chat", "http://x/chat:1"]:
        assert ls.rewrite_hosts(untouched, names) == untouched


def test_map_path_and_durations(tmp_path):
    paths = {"/data": ".local/db", "/app/static": "frontend/dist"}
    assert ls.map_path("/data", paths, tmp_path) == str(tmp_path / ".local/db")
    assert ls.map_path("/data/x.aof", paths, tmp_path) == str(tmp_path / ".local/db") + "/x.aof"
    assert ls.map_path("/database", paths, tmp_path) == "/database"
    assert ls.parse_duration("1m30s", 0) == 90 and ls.parse_duration("500ms", 0) == 0.5
    assert ls.parse_duration(None, 7) == 7 and ls.parse_duration(3, 0) == 3
    with pytest.raises(ls.StackError):
        ls.parse_duration("soon", 0)


def test_start_order_respects_dependencies_and_profiles():
    services = yaml.safe_load(COMPOSE)["services"]
    assert ls.start_order(services, set()) == ["db", "api", "web"]
    assert ls.start_order(services, {"local-model"}) == ["db", "llm", "api", "web"]
    assert ls.start_order(services, {"*"}) == ["db", "llm", "api", "web"]


def test_start_order_rejects_missing_required_and_cyclic_dependencies():
    with pytest.raises(ls.StackError, match="does not define"):
        ls.start_order({"a": {"depends_on": ["ghost"]}}, set())
    with pytest.raises(ls.StackError, match="not active"):
        ls.start_order({"a": {"depends_on": ["b"]}, "b": {"profiles": ["p"]}}, set())
    with pytest.raises(ls.StackError, match="cycle"):
        ls.start_order({"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}}, set())


def test_plan_builds_local_processes(tmp_path):
    env = {"API_SECRET": "s" * 40, "FROM_SHELL": "here"}
    db, api, web = ls.plan(yaml.safe_load(COMPOSE), env, set(), root=tmp_path, python="/venv/bin/python")
    assert db.argv == ["redis-server", "--port", "6390", "--dir", str(tmp_path / ".local/db"), "--bind", "127.0.0.1"]
    assert db.port == 6390 and db.data_dirs == [tmp_path / ".local/db"] and db.env == {}
    assert (db.interval, db.retries, db.timeout) == (2, 4, 30)
    assert api.argv == ["gunicorn", "-c", "python:conf", "api:create_app()"]
    assert api.env == {"PORT": "9001", "HOST": "127.0.0.1", "DB_URL": "redis://127.0.0.1:6390/0",
                       "SECRET": "s" * 40, "MODEL_URL": "http://127.0.0.1:8090/v1", "DEBUG": "false"}
    assert api.health == ["/venv/bin/python", "-c", "print('ok')"]
    assert (api.interval, api.timeout, api.start_period, api.stop_grace, api.port) == (90, 0.5, 300, 20, 9001)
    assert api.warnings and "MODEL_URL points at llm" in api.warnings[0]
    assert web.env == {"PORT": "9000", "API_URL": "http://127.0.0.1:9001", "FROM_SHELL": "here"}
    assert web.health is None


def test_plan_with_the_profile_active_has_no_warning(tmp_path):
    services = ls.plan(yaml.safe_load(COMPOSE), {"API_SECRET": "x"}, {"local-model"}, root=tmp_path)
    assert [s.name for s in services] == ["db", "llm", "api", "web"]
    assert not any(s.warnings for s in services)


def test_plan_reports_a_missing_required_variable(tmp_path):
    with pytest.raises(ls.StackError, match="API_SECRET is missing a value"):
        ls.plan(yaml.safe_load(COMPOSE), {}, set(), root=tmp_path)


def test_secrets_are_generated_once_and_kept_private(tmp_path):
    path = tmp_path / ".local" / "secrets.env"
    assert ls.required_secrets(COMPOSE + "${B_SECRET:?x} ${API_SECRET:?y} ${OTHER:?z}") == ["API_SECRET", "B_SECRET"]
    first = ls.ensure_secrets(["A_SECRET", "B_SECRET"], {"B_SECRET": "from-env"}, path)
    assert list(first) == ["A_SECRET"] and len(first["A_SECRET"]) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ls.ensure_secrets(["A_SECRET"], {}, path) == first
    assert ls.ensure_secrets(["C_SECRET"], {}, path, write=False)["C_SECRET"]
    assert "C_SECRET" not in path.read_text()


def test_child_environment_is_small_and_prefers_the_venv():
    base = ls.child_base_env({"PATH": "/usr/bin", "HOME": "/h", "AWS_SECRET_ACCESS_KEY": "no",
                              "https_proxy": "http://p:3128"}, "/repo/.venv/bin/python")
    assert base["PATH"] == "/repo/.venv/bin" + os.pathsep + "/usr/bin"
    assert "AWS_SECRET_ACCESS_KEY" not in base and base["HOME"] == "/h"
    assert "127.0.0.1" in base["NO_PROXY"]


def test_the_repository_compose_file_plans_the_whole_stack(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {"INTERNAL_IDENTITY_SECRET": "i" * 40, "EDGE_SESSION_SECRET": "e" * 40}
    services = {s.name: s for s in ls.plan(compose, env, {"local-model"}, root=tmp_path)}
    assert list(services) == ["redis", "memory", "model", "chat", "auth-proxy", "local-edge"]
    assert services["redis"].port == 6390 and str(tmp_path / ".local/redis") in services["redis"].argv
    assert services["memory"].env["REDIS_URL"] == "redis://127.0.0.1:6390/0"
    assert services["chat"].env["OPENAI_BASE_URL"] == "http://127.0.0.1:8090/v1"
    assert services["auth-proxy"].env["ALB_KEY_URL"] == "http://127.0.0.1:8080/alb-keys"
    assert services["local-edge"].env["STATIC_DIR"] == str(tmp_path / "frontend/dist")
    assert all(s.env.get("HOST") == "127.0.0.1" for n, s in services.items() if n != "redis")
    assert services["model"].start_period >= 120
    assert ls.required_secrets((ROOT / "docker-compose.yml").read_text()) == [
        "INTERNAL_IDENTITY_SECRET", "EDGE_SESSION_SECRET"]
    without_model = ls.plan(compose, env, set(), root=tmp_path)
    assert "model" not in [s.name for s in without_model]


def test_check_reports_missing_executables(capsys, tmp_path):
    services = ls.plan(yaml.safe_load(COMPOSE), {"API_SECRET": "x"}, set(), root=tmp_path)
    services[0].argv[0] = "no-such-binary-anywhere"
    assert ls.check(services, ["llm"], set()) == 1
    out = capsys.readouterr()
    assert "1. db: no-such-binary-anywhere" in out.out and "SECRET=***" in out.out and "x" not in out.out.split("SECRET=")[1][:3]
    assert "'no-such-binary-anywhere' is not on PATH" in out.err
