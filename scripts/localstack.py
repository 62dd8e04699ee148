#!/usr/bin/env python3
"""Run the stack defined in docker-compose.yml as local processes (no Docker engine needed).

    .venv/bin/python scripts/localstack.py [up]     start everything; Ctrl-C or SIGTERM stops it
    .venv/bin/python scripts/localstack.py check    validate the file for local use, print the plan
    python3 scripts/localstack.py secrets           create .local/secrets.env (standard library only)

Active services (profiles from COMPOSE_PROFILES, as with compose) start in dependency order, each
with its compose `command` and `environment` (${VAR...} interpolated from the process environment
and .local/secrets.env, compose host names in URLs pointed at 127.0.0.1, the `x-local` block
applied: `environment` overrides, `paths` {container path: repo path}, extra `args`), and each must pass its own `healthcheck` before its dependents start. Logs go to
.local/logs/<service>.log; data stays under .local/ across runs.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
SECRETS_FILE = LOCAL / "secrets.env"
ENTRY = "local-edge"
KEEP_ENV = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "TERM", "SSL_CERT_FILE", "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}
MASK = re.compile(r"(SECRET|PASSWORD|_KEY|TOKEN)$", re.I)
NAME = r"[A-Za-z_][A-Za-z0-9_]*"


class StackError(Exception):
    """The stack cannot be planned or started; the message says why."""


# ---------------------------------------------------------------- pure functions (unit-tested)
def interpolate(text: str, env: dict) -> str:
    """Compose-style $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?err}, ${VAR?err}, ${VAR:+x}, ${VAR+x}
    (defaults may nest: ${A:-${B}})."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "$":
            out.append(text[i])
            i += 1
        elif text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 0, i
            while j < len(text):  # find the matching brace, counting nested ${
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            else:
                raise StackError(f"unclosed ${{ in {text!r}")
            out.append(_substitute(text[i + 2:j], env))
            i = j + 1
        elif m := re.compile(NAME).match(text, i + 1):
            out.append(env.get(m.group(), ""))
            i = m.end()
        else:
            raise StackError(f"invalid interpolation in {text!r} (write $$ for a literal $)")
    return "".join(out)


def _substitute(expr: str, env: dict) -> str:
    m = re.fullmatch(rf"({NAME})(?:(:?[-?+])(.*))?", expr, re.S)
    if not m:
        raise StackError(f"invalid interpolation ${{{expr}}}")
    name, op, arg = m.groups()
    value = env.get(name)
    if op is None:
        return value or ""
    present = value is not None and (value != "" or not op.startswith(":"))
    if op.endswith("-"):
        return value if present else interpolate(arg, env)
    if op.endswith("+"):
        return interpolate(arg, env) if present else ""
    if not present:
        raise StackError(f"required variable {name} is missing a value: {interpolate(arg, env)}")
    return value


def interpolate_tree(value, env: dict):
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [interpolate_tree(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate_tree(v, env) for k, v in value.items()}
    return value


def required_secrets(text: str) -> list[str]:
    """Names of required variables (${NAME:?...}) that end in _SECRET, in order of appearance."""
    return list(dict.fromkeys(re.findall(rf"\$\{{({NAME}_SECRET):?\?", text)))


def start_order(services: dict, profiles: set[str]) -> list[str]:
    """Active services (no profile, or one in `profiles`), dependencies first, else in file order."""
    active = [n for n, s in services.items() if not s.get("profiles") or "*" in profiles or profiles & set(s["profiles"])]
    deps = {}
    for name in active:
        wanted = services[name].get("depends_on") or {}
        deps[name] = []
        for dep, opts in (dict.fromkeys(wanted, {}) if isinstance(wanted, list) else wanted).items():
            if dep not in services:
                raise StackError(f"{name} depends on {dep!r}, which docker-compose.yml does not define")
            if dep in active:
                deps[name].append(dep)
            elif (opts or {}).get("required", True):
                raise StackError(f"{name} needs {dep}, which is not active (profiles {services[dep].get('profiles')})")
    order: list[str] = []
    while len(order) < len(active):
        ready = [n for n in active if n not in order and all(d in order for d in deps[n])]
        if not ready:
            raise StackError(f"dependency cycle among: {', '.join(n for n in active if n not in order)}")
        order.append(ready[0])
    return order


def url_host_pattern(names) -> str:
    return r"(://(?:[^/@\s]*@)?)(?:%s)(?=[:/?#]|$)" % "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def rewrite_hosts(value: str, names) -> str:
    """Point URLs at compose service names (http://memory:8083, redis://redis:6390) to 127.0.0.1."""
    return re.sub(url_host_pattern(names), r"\g<1>127.0.0.1", value) if names else value


def map_path(value: str, paths: dict, root: Path) -> str:
    """A container path (x-local `paths`: {"/data": ".local/redis"}) to the repo-relative local one."""
    for inside in sorted(paths, key=len, reverse=True):
        if value == inside or value.startswith(inside.rstrip("/") + "/"):
            return str(root / paths[inside]) + value[len(inside):]
    return value


def parse_duration(text, default: float) -> float:
    if text is None or isinstance(text, (int, float)):
        return default if text is None else float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise StackError(f"cannot read the duration {text!r}")
    return sum(float(n) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[u] for n, u in parts)


def environment_of(block: dict, env: dict) -> dict:
    raw = block.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, None) for item in raw)
    return {k: env.get(k, "") if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}


def health_argv(test, python: str) -> list[str] | None:
    """The healthcheck command, run locally; only the interpreter becomes this venv's python."""
    if not test or test[0] == "NONE":
        return None
    if isinstance(test, str) or test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test if isinstance(test, str) else test[1]]
    argv = list(test[1:] if test[0] == "CMD" else test)
    return [python if argv[0] in ("python", "python3") else argv[0], *argv[1:]]


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict
    health: list[str] | None
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    stop_grace: float = 10.0
    port: int | None = None
    data_dirs: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan(compose: dict, env: dict, profiles: set[str], root: Path = ROOT, python: str = sys.executable) -> list[Service]:
    services = compose.get("services") or {}
    order, result = start_order(services, profiles), []
    for name in order:
        svc = interpolate_tree(services[name], env)
        local = svc.get("x-local") or {}
        paths, command, hc = local.get("paths") or {}, svc.get("command"), svc.get("healthcheck") or {}
        if not command:
            raise StackError(f"{name} has no command: a local process needs one")
        argv = [map_path(a, paths, root) for a in (shlex.split(command) if isinstance(command, str) else command)]
        argv += [str(a) for a in local.get("args") or []]
        envs = {**environment_of(svc, env), **environment_of(local, env)}
        inactive = [n for n in services if n not in order]
        warnings = [f"{name}: {key} points at {other}, which is not started (activate it with COMPOSE_PROFILES="
                    f"{','.join(services[other].get('profiles', []))}, or set {key})"
                    for key, value in envs.items() for other in inactive if re.search(url_host_pattern([other]), value)]
        envs = {k: map_path(rewrite_hosts(v, list(services)), paths, root) for k, v in envs.items()}
        port = envs.get("PORT") or (argv[argv.index("--port") + 1] if "--port" in argv else None)
        result.append(Service(
            name, argv, envs, None if hc.get("disable") else health_argv(hc.get("test"), python),
            interval=parse_duration(hc.get("interval"), 30), timeout=parse_duration(hc.get("timeout"), 30),
            retries=int(hc.get("retries", 3)), start_period=parse_duration(hc.get("start_period"), 0),
            stop_grace=parse_duration(svc.get("stop_grace_period"), 10), port=int(port) if port else None,
            data_dirs=[root / p for p in paths.values() if Path(p).parts[:1] == (".local",)], warnings=warnings))
    return result


def read_env_file(path: Path) -> dict:
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(map(str.strip, line.split("=", 1)) for line in lines if "=" in line and not line.lstrip().startswith("#"))


def ensure_secrets(names: list[str], environ: dict, path: Path, write: bool = True) -> dict:
    """Values for the required secrets not in `environ`: from `path`, else newly generated (and
    appended to `path`, readable by its owner only, when `write`)."""
    stored = read_env_file(path)
    new = {n: secrets.token_urlsafe(48) for n in names if not environ.get(n) and not stored.get(n)}
    if new and write:
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as f:
            f.write("".join(f"{k}={v}\n" for k, v in new.items()))
    return {**stored, **new}


def child_base_env(environ: dict, python: str) -> dict:
    """What a child gets besides its compose environment: little, as in a container."""
    base = {k: v for k, v in environ.items() if k in KEEP_ENV or k.startswith("LC_")}
    base["PATH"] = os.pathsep.join([str(Path(python).parent), environ.get("PATH", os.defpath)])
    if any(k.lower() in ("http_proxy", "https_proxy") for k in base):  # never proxy calls between services
        base["NO_PROXY"] = base["no_proxy"] = ",".join(filter(None, [base.get("NO_PROXY"), "127.0.0.1,localhost"]))
    return {**base, "PYTHONUNBUFFERED": "1"}


def missing_module(argv: list[str]) -> str | None:
    """The Python module a gunicorn app spec or `python -m` names, when it is not installed."""
    if Path(argv[0]).name == "gunicorn" and (m := re.fullmatch(r"([\w.]+):.*", argv[-1])):
        module = m.group(1)
    elif Path(argv[0]).name.startswith("python") and "-m" in argv[:-1]:
        module = argv[argv.index("-m") + 1]
    else:
        return None
    return None if importlib.util.find_spec(module.split(".")[0]) else module


# ---------------------------------------------------------------- processes
def load(path: Path, write_secrets: bool) -> tuple[list[Service], list[str], set[str]]:
    import yaml  # here, so that `secrets` needs only the standard library

    text = path.read_text()
    env = {**ensure_secrets(required_secrets(text), dict(os.environ), SECRETS_FILE, write_secrets), **os.environ}
    profiles = {p.strip() for p in os.environ.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    compose = yaml.safe_load(text)
    services = plan(compose, env, profiles)
    return services, [n for n in compose["services"] if n not in {s.name for s in services}], profiles


def check(services: list[Service], skipped: list[str], profiles: set[str]) -> int:
    path, problems = child_base_env(dict(os.environ), sys.executable)["PATH"], []
    print(f"plan (profiles: {', '.join(sorted(profiles)) or 'none'}):")
    for i, s in enumerate(services, 1):
        for argv, what in ((s.argv, "command"), (s.health or [], "healthcheck")):
            if argv and not shutil.which(argv[0], path=path):
                problems.append(f"{s.name}: the {what}'s executable {argv[0]!r} is not on PATH")
        if module := missing_module(s.argv):
            problems.append(f"{s.name}: the Python module {module!r} is not installed in {sys.prefix}")
        print(f"  {i}. {s.name}: {shlex.join(s.argv)}\n     health: {shlex.join(s.health) if s.health else 'none'}"
              f"\n     env: {' '.join(f'{k}={chr(42) * 3 if MASK.search(k) else v}' for k, v in s.env.items()) or '-'}")
    if skipped:
        print(f"  not started: {', '.join(skipped)} (profile not in COMPOSE_PROFILES)")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    return 1 if problems else 0


def tail(path: Path, offset: int, lines: int = 30) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])


def wait_healthy(s: Service, proc: subprocess.Popen, env: dict) -> None:
    """Probe every second during start_period (failures do not count), then every interval;
    `retries` failures in a row after start_period, or the process exiting, fail the start."""
    started, failures = time.monotonic(), 0
    while s.health:
        if proc.poll() is not None:
            raise StackError(f"{s.name} exited with code {proc.returncode} before it was healthy")
        try:
            r = subprocess.run(s.health, env=env, capture_output=True, text=True, timeout=s.timeout)
            if r.returncode == 0:
                return
            last = ((r.stdout + r.stderr).strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        except subprocess.TimeoutExpired:
            last = f"no answer within {s.timeout:g}s"
        starting = time.monotonic() - started < s.start_period
        failures += 0 if starting else 1
        if failures >= s.retries:
            raise StackError(f"{s.name} did not become healthy: {last}")
        time.sleep(1 if starting else s.interval)


def stop(running: list) -> None:
    """SIGTERM to all at once (dependents first), each may drain for its stop_grace_period, then
    SIGKILL. All at once: services hold keep-alive connections to each other in both directions,
    and gunicorn waits for idle ones, so stopping one by one would wait each time. A second
    Ctrl-C kills what is left at once."""
    live = [(s, p) for s, p, _, _ in reversed(running) if p.poll() is None]
    try:
        if live:
            print(f"stopping {', '.join(s.name for s, _ in live)}…", flush=True)
        for _, proc in live:
            os.killpg(proc.pid, signal.SIGTERM)
        started = time.monotonic()
        for s, proc in live:
            try:
                proc.wait(timeout=max(0.0, started + s.stop_grace - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{s.name} still busy (or holding idle connections) after {s.stop_grace:g}s: SIGKILL", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
    except KeyboardInterrupt:
        for _, proc in live:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    for _, proc in live:
        proc.wait()


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run(services: list[Service]) -> int:
    base = child_base_env(dict(os.environ), sys.executable)
    (LOCAL / "logs").mkdir(parents=True, exist_ok=True)
    for sig in (signal.SIGINT, signal.SIGTERM):  # both stop the stack (SIGINT even when started in the background)
        signal.signal(sig, signal.default_int_handler)
    running, failed = [], None
    try:
        for s in services:
            failed = s
            if s.port and port_in_use(s.port):
                raise StackError(f"port {s.port} for {s.name} is already in use (is rolechat already running?)")
            for d in s.data_dirs:
                d.mkdir(parents=True, exist_ok=True)
            log = LOCAL / "logs" / f"{s.name}.log"
            with open(log, "ab") as f:
                offset = f.tell()
                f.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {shlex.join(s.argv)}\n".encode())
                f.flush()
                try:
                    proc = subprocess.Popen(s.argv, env={**base, **s.env}, cwd=ROOT, stdin=subprocess.DEVNULL,
                                            stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
                except OSError as exc:
                    raise StackError(f"cannot start {s.name}: {exc}") from None
            running.append((s, proc, log, offset))
            print(f"starting {s.name}{' (first start can take minutes)' if s.start_period >= 120 else ''}…", flush=True)
            t0 = time.monotonic()
            wait_healthy(s, proc, {**base, **s.env})
            print(f"{s.name} healthy ({time.monotonic() - t0:.1f}s)", flush=True)
        entry = next((s for s in services if s.name == ENTRY), None)
        print(f"rolechat is running at http://localhost:{entry.port if entry else '?'}"
              "   (logs in .local/logs/; Ctrl-C stops it)", flush=True)
        while True:
            for failed, proc, _, _ in running:
                if proc.poll() is not None:
                    raise StackError(f"{failed.name} exited with code {proc.returncode}")
            time.sleep(1)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for s, _, log, offset in running:
            if s is failed:
                print(f"---- last lines of {log.relative_to(ROOT)}:\n{tail(log, offset)}\n----", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping rolechat…", flush=True)
        return 0
    finally:
        stop(running)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run docker-compose.yml's stack as local processes.")
    parser.add_argument("action", nargs="?", default="run", choices=["run", "up", "check", "secrets"],
                        help="run (alias: up) starts the stack; check only validates and prints the plan")
    parser.add_argument("-f", "--file", type=Path, default=ROOT / "docker-compose.yml")
    args = parser.parse_args(argv)
    try:
        if args.action == "secrets":
            names = required_secrets(args.file.read_text())
            ensure_secrets(names, {}, SECRETS_FILE)
            print(f"{', '.join(names)}: in {SECRETS_FILE} (local use only; never commit it)")
            return 0
        services, skipped, profiles = load(args.file, write_secrets=args.action in ("run", "up"))
        for warning in (w for s in services for w in s.warnings):
            print(f"warning: {warning}", file=sys.stderr)
        return check(services, skipped, profiles) if args.action == "check" else run(services)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
