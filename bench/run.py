"""rolechat's speed-and-capacity benchmark: streams straight from the upstream (the floor) and
through the production path (auth-proxy with an ALB-signed identity → chat → memory → upstream),
side by side at each concurrency, all on this machine.

    .venv/bin/python -m bench                    # C = 1, 100, 200, 500, 1000; 500-token answers at 50 tokens/s
    .venv/bin/python -m bench --smoke            # C = 1 and 5, 20-token answers (proves the harness works)
    .venv/bin/python -m bench --levels 1,100 --paths direct,production,edge --tokens-at 1000=200

Results go to bench/results/ (or --out): results.json, results.md and overhead.png.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from rolechat_common import identity as ident

from . import procstat, report
from .loadgen import StreamRecord, Target, run_streams
from .stack import MODEL, SECRET, SERVICES, UPSTREAM_KEY, BenchStack, user

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Explain how a hash map works, in plain words."
INSTRUCTIONS = "You are a patient programming teacher."
PATH_NAMES = ("direct", "production", "edge")


# --- statistics ----------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def r(value, digits=2):
    return None if value is None else round(value, digits)


# --- requests for each path ----------------------------------------------------------------------
def _http(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close",
             f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def direct_target(stack: BenchStack, concurrency: int) -> Target:
    body = json.dumps({"model": MODEL, "stream": True, "max_tokens": 1024,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "system", "content": INSTRUCTIONS},
                                    {"role": "user", "content": PROMPT}]}).encode()
    request = _http("POST", "/v1/chat/completions", f"127.0.0.1:{stack.upstream_port}",
                    {"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json",
                     "Accept": "text/event-stream"}, body)
    return Target("direct", "127.0.0.1", stack.upstream_port, [request], b"data: [DONE]")


class _Sessions(threading.local):
    def get(self) -> requests.Session:
        if not hasattr(self, "session"):
            self.session = requests.Session()
            self.session.trust_env = False
        return self.session


_SESSIONS = _Sessions()


def _parallel(fn, items, workers: int = 16) -> list:
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def production_target(stack: BenchStack, concurrency: int, tokens: dict[int, str]) -> Target:
    """One user and one fresh conversation per stream, created through the auth-proxy."""
    base = stack.url("auth-proxy")
    port = int(base.rsplit(":", 1)[1])

    def create(i: int) -> bytes:
        if i not in tokens:
            tokens[i] = stack.alb_data(i)
        response = _SESSIONS.get().post(f"{base}/api/conversations", json={"instructions": INSTRUCTIONS},
                                        headers={"x-amzn-oidc-data": tokens[i]}, timeout=30)
        if response.status_code != 201:
            raise RuntimeError(f"creating a conversation answered {response.status_code}: {response.text[:300]}")
        cid = response.json()["id"]
        return _http("POST", f"/api/conversations/{cid}/messages", f"127.0.0.1:{port}",
                     {"x-amzn-oidc-data": tokens[i], "Content-Type": "application/json",
                      "Accept": "text/event-stream"}, json.dumps({"content": PROMPT}).encode())

    return Target("production", "127.0.0.1", port, _parallel(create, range(concurrency)),
                  b"event: done", b"event: error")


def edge_target(stack: BenchStack, concurrency: int, cookies: dict[int, str]) -> Target:
    """The same through the local edge: a signed-in session per user, the edge signs the header."""
    base = stack.url("local-edge")
    port = int(base.rsplit(":", 1)[1])

    def create(i: int) -> bytes:
        session = _SESSIONS.get()
        if i not in cookies:
            session.cookies.clear()
            response = session.post(f"{base}/local/login", json={"username": f"edge-bench-{i}"}, timeout=30)
            if response.status_code != 204:
                raise RuntimeError(f"edge login answered {response.status_code}")
            cookies[i] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        response = session.post(f"{base}/api/conversations", json={"instructions": INSTRUCTIONS},
                                headers={"Cookie": cookies[i]}, timeout=30)
        if response.status_code != 201:
            raise RuntimeError(f"creating a conversation answered {response.status_code}: {response.text[:300]}")
        cid = response.json()["id"]
        return _http("POST", f"/api/conversations/{cid}/messages", f"127.0.0.1:{port}",
                     {"Cookie": cookies[i], "Content-Type": "application/json", "Accept": "text/event-stream"},
                     json.dumps({"content": PROMPT}).encode())

    return Target("edge", "127.0.0.1", port, _parallel(create, range(concurrency)),
                  b"event: done", b"event: error")


# --- context assembly ----------------------------------------------------------------------------
def seed_probe_conversation(stack: BenchStack, messages: int = 20, answer_chars: int = 2000) -> tuple[str, str]:
    """A conversation with history (user questions and long answers), written straight to memory."""
    user_id, name = user(999_999)
    who = ident.Identity(user_id, name, ())
    memory = stack.url("memory")
    session = _SESSIONS.get()

    def headers():
        return {ident.IDENTITY_HEADER: ident.mint(who, SECRET, ident.ISSUER_CHAT, request_id="bench-seed")}

    response = session.post(f"{memory}/api/conversations", json={"instructions": INSTRUCTIONS, "model": MODEL},
                            headers=headers(), timeout=10)
    response.raise_for_status()
    cid = response.json()["id"]
    for i in range(messages):
        role = "user" if i % 2 == 0 else "assistant"
        content = PROMPT if role == "user" else ("tk " * (answer_chars // 3))[:answer_chars]
        body = {"role": role, "content": content, **({"model": MODEL, "status": "complete"} if role == "assistant" else {})}
        session.post(f"{memory}/api/conversations/{cid}/messages", json=body, headers=headers(),
                     timeout=10).raise_for_status()
    return cid, user_id


def start_probe(stack: BenchStack, cid: str, user_id: str, *, interval: float, count: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.probe", "--memory", stack.url("memory"), "--conversation", cid,
         "--user-id", user_id, "--username", "bench-999999", "--secret", SECRET, "--interval", str(interval),
         "--count", str(count), "--duration", "900"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)


def finish_probe(proc: subprocess.Popen, *, stop: bool = True) -> dict:
    if stop and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    try:
        data = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"count": 0, "errors": None}
    lat = data["latencies_ms"]
    return {"count": len(lat), "errors": data["errors"], "p50_ms": r(pct(lat, 50)), "p99_ms": r(pct(lat, 99)),
            "max_ms": r(max(lat) if lat else None)}


# --- one measurement -----------------------------------------------------------------------------
def _processes(stack: BenchStack, path: str) -> list[str]:
    names = ["upstream"]
    if path != "direct":
        names += list(SERVICES) + ["redis"]
    if path == "edge":
        names.append("local-edge")
    return names


def _start_profiles(stack: BenchStack, out: Path, tag: str, seconds: float) -> list[subprocess.Popen]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    procs = []
    for name in SERVICES:
        for pid in procstat.children(stack.pid(name)):
            path = out / f"profile-{tag}-{name}-{pid}.txt"
            procs.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                                           "--rate", "200", "--format", "raw", "--nonblocking",
                                           "--output", str(path)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


async def measure(stack: BenchStack, target: Target, concurrency: int, *, tokens: int, rate: float,
                  ramp: float, timeout: float, idle: dict, probe: tuple[str, str] | None,
                  window: float = 0.0, probe_cost: float = 0.0, profile: tuple[Path, str] | None = None) -> dict:
    names = _processes(stack, target.name)
    before = {name: procstat.sample(stack.pid(name)) for name in names}
    own_before = procstat.own_cpu()
    peak: dict = {"open": -1, "rss": {}}
    records_ref: list[list[StreamRecord]] = []
    probe_proc = start_probe(stack, *probe, interval=0.2) if probe else None
    profiles = []
    if profile is not None:
        profiles = _start_profiles(stack, profile[0], profile[1], seconds=min(max(ramp + window, tokens / rate, 1), 60))

    async def sampler():
        for _ in range(int(timeout / 0.25) + 1):
            await asyncio.sleep(0.25)
            if not records_ref:
                continue
            records = records_ref[0]
            open_now = sum(1 for rec in records if rec.t_first is not None and rec.t_end is None)
            if open_now >= peak["open"]:
                peak["open"] = open_now
                peak["rss"] = {name: procstat.sample(stack.pid(name)).rss for name in names}

    watcher = asyncio.ensure_future(sampler())
    started = time.perf_counter()
    until = started + ramp + window if window > 0 else None
    all_records = await run_streams(target, concurrency, ramp=ramp, timeout=timeout, until=until,
                                    on_start=records_ref.append)
    wall = time.perf_counter() - started
    # latency figures from the steady state: streams started once all C users were running
    steady = [rec for rec in all_records if rec.t_start >= started + ramp] if until else []
    records = steady or all_records
    watcher.cancel()
    own_after = procstat.own_cpu()
    after = {name: procstat.sample(stack.pid(name)) for name in names}
    context = finish_probe(probe_proc) if probe_proc else None
    for proc in profiles:
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()

    # --- figures ---
    outcomes: dict[str, int] = {}
    for rec in all_records:
        outcomes[rec.outcome] = outcomes.get(rec.outcome, 0) + 1
    ok = [rec for rec in all_records if rec.outcome == "ok"]
    short = sum(1 for rec in ok if rec.tokens < tokens)
    relayed = sum(rec.tokens for rec in all_records)
    measured = sum(rec.tokens for rec in records)  # the tokens of the streams the latency figures are from
    ttft = [(rec.t_first - rec.t_start) * 1000 for rec in records if rec.t_first is not None]
    gaps: list[float] = []
    event_gaps: list[float] = []
    stretch: list[float] = []
    for rec in records:
        for k in range(1, len(rec.times)):
            gap = (rec.times[k] - rec.times[k - 1]) * 1000
            event_gaps.append(gap)
            gaps.append(gap)
            gaps.extend([0.0] * (rec.counts[k] - 1))
        if rec.counts:
            gaps.extend([0.0] * (rec.counts[0] - 1))
        if rec.tokens > 1 and rec.times:
            nominal = (rec.tokens - 1) / rate
            stretch.append((rec.times[-1] - rec.t_first) / nominal)
    cpu = {}
    probe_seconds = probe_cost * (context or {}).get("count", 0)
    for name in names:
        seconds = after[name].cpu - before[name].cpu
        if name == "memory":  # the context probe's own calls are not part of the relayed streams
            seconds = max(0.0, seconds - probe_seconds)
        cpu[name] = {"seconds": r(seconds, 3),
                     "s_per_1000_tokens": r(seconds / relayed * 1000, 5) if relayed else None,
                     "us_per_token": r(seconds / relayed * 1e6, 1) if relayed else None}
    own = own_after - own_before
    cpu["load-generator"] = {"seconds": r(own, 3), "s_per_1000_tokens": r(own / relayed * 1000, 5) if relayed else None,
                             "us_per_token": r(own / relayed * 1e6, 1) if relayed else None}
    stack_seconds = sum(after[n].cpu - before[n].cpu for n in SERVICES if n in after) - probe_seconds
    memory = {}
    for name in names:
        if name in ("upstream", "redis"):
            continue
        at_peak = peak["rss"].get(name)
        memory[name] = {
            "idle_mb": r(idle[name] / 2**20, 1) if name in idle else None,
            "peak_mb": r(at_peak / 2**20, 1) if at_peak else None,
            "kb_per_stream": r((at_peak - idle[name]) / 1024 / peak["open"], 1)
            if at_peak and name in idle and peak["open"] > 0 else None}
    restarts = {name: sorted(set(before[name].pids[1:]) - set(after[name].pids[1:]))
                for name in names if name in SERVICES or name == "local-edge"}
    errors = {k: v for k, v in outcomes.items() if k != "ok"}
    details = sorted({rec.detail for rec in all_records if rec.outcome != "ok" and rec.detail})[:5]
    return {
        "path": target.name, "concurrency": concurrency, "tokens_per_answer": tokens, "rate": rate,
        "ramp_s": r(ramp), "window_s": r(window), "wall_s": r(wall), "streams": len(all_records), "ok": len(ok),
        "steady_streams": len(steady), "probe_cpu_subtracted_s": r(probe_seconds, 3),
        "errors": sum(errors.values()), "error_kinds": errors, "error_details": details,
        "cut": outcomes.get("cut", 0), "short_answers": short, "tokens_relayed": relayed,
        "open_streams_at_peak": peak["open"],
        "ttft_ms": {"p50": r(pct(ttft, 50)), "p90": r(pct(ttft, 90)), "p99": r(pct(ttft, 99)),
                    "max": r(max(ttft) if ttft else None)},
        "token_gap_ms": {"p50": r(pct(gaps, 50)), "p99": r(pct(gaps, 99)), "max": r(max(gaps) if gaps else None)},
        "event_gap_ms": {"p50": r(pct(event_gaps, 50)), "p99": r(pct(event_gaps, 99))},
        "events_per_token": r(sum(len(rec.times) for rec in records) / measured, 3) if measured else None,
        "stretch": {"p50": r(pct(stretch, 50), 3), "p99": r(pct(stretch, 99), 3)},
        "cpu": cpu,
        "stack_us_per_token": r(stack_seconds / relayed * 1e6, 1) if relayed and target.name != "direct" else None,
        "memory": memory, "worker_restarts": {k: len(v) for k, v in restarts.items()},
        "context_assembly_ms": context,
    }


def add_overheads(results: list[dict]) -> None:
    """TTFT overhead and added inter-token delay of each path over the direct path at the same C."""
    direct = {row["concurrency"]: row for row in results if row["path"] == "direct"}
    for row in results:
        base = direct.get(row["concurrency"])
        if row["path"] == "direct" or base is None:
            continue
        row["ttft_overhead_ms"] = {
            q: r(row["ttft_ms"][q] - base["ttft_ms"][q]) if row["ttft_ms"][q] is not None and base["ttft_ms"][q] is not None else None
            for q in ("p50", "p99")}
        a, b = row["token_gap_ms"]["p99"], base["token_gap_ms"]["p99"]
        row["added_token_gap_p99_ms"] = r(a - b) if a is not None and b is not None else None


# --- the run -------------------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,100,200,500,1000", help="concurrencies, comma-separated")
    parser.add_argument("--paths", default="direct,production", help="direct,production[,edge]")
    parser.add_argument("--tokens", type=int, default=500, help="tokens per answer")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="upstream's own time to first token (s)")
    parser.add_argument("--tokens-at", default="", help="answer-length caps per level, e.g. 1000=200")
    parser.add_argument("--arrival", choices=("steady", "burst"), default="steady",
                        help="steady: C users in a closed loop, started over one answer's duration, measured "
                             "once all run; burst: C streams opened at --ramp-rate per second, once")
    parser.add_argument("--ramp-rate", type=float, default=500.0, help="burst: streams opened per second")
    parser.add_argument("--window", type=float, default=0.0,
                        help="steady: seconds of steady state after the ramp (default: one answer's duration)")
    parser.add_argument("--level-timeout", type=float, default=600.0, help="longest one level may take (s)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every service (repeatable)")
    parser.add_argument("--chat-env", action="append", default=[], help="KEY=VALUE for chat only (repeatable)")
    parser.add_argument("--profile", action="store_true", help="py-spy the services during the top production level")
    parser.add_argument("--smoke", action="store_true", help="C = 1 and 5, 20-token answers: proves the harness")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--label", default="", help="a note stored with the results")
    args = parser.parse_args(argv)
    if args.smoke:
        args.levels, args.tokens, args.ramp_rate, args.arrival = "1,5", 20, 100.0, "burst"
    args.level_list = [int(x) for x in args.levels.split(",") if x.strip()]
    args.path_list = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = set(args.path_list) - set(PATH_NAMES)
    if unknown or "direct" not in args.path_list:
        parser.error(f"--paths must include direct and be among {PATH_NAMES}")
    args.caps = {int(k): int(v) for k, v in (item.split("=") for item in args.tokens_at.split(",") if item)}
    return args


def _kv(items) -> dict:
    return dict(item.split("=", 1) for item in items)


def workspace(out: str, prefix: str) -> tuple[Path, Path]:
    """(results folder, a fresh work folder), with this process allowed as many open files as it
    may have: 1,000 streams need more than the usual 1,024, and the services inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = Path(out)
    results.mkdir(parents=True, exist_ok=True)
    return results, Path(tempfile.mkdtemp(prefix=prefix))


async def run(args) -> dict:
    out, workdir = workspace(args.out, "rolechat-bench-")
    stack = BenchStack(workdir, tokens=args.tokens, rate=args.rate, first_token_delay=args.first_token_delay,
                       service_env={"LOG_LEVEL": "INFO", **_kv(args.env)}, chat_env=_kv(args.chat_env),
                       with_edge="edge" in args.path_list)
    results: list[dict] = []
    meta = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "label": args.label,
            "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "levels": args.level_list, "paths": args.path_list, "tokens_per_answer": args.tokens,
            "token_caps": args.caps, "rate": args.rate, "arrival": args.arrival, "ramp_rate": args.ramp_rate,
            "env": _kv(args.env), "chat_env": _kv(args.chat_env), "smoke": args.smoke}
    try:
        stack.start()
        alb_tokens: dict[int, str] = {}
        cookies: dict[int, str] = {}
        # warm-up: one short answer on every path (key fetch, connection pools, imports)
        stack.upstream("POST", "/_config", {"tokens": 5})
        for path in args.path_list:
            target = {"direct": direct_target, "production": lambda s, c: production_target(s, c, alb_tokens),
                      "edge": lambda s, c: edge_target(s, c, cookies)}[path](stack, 2)
            await run_streams(target, 2, ramp=0, timeout=30)
        cid, user_id = seed_probe_conversation(stack)
        memory_before = procstat.sample(stack.pid("memory")).cpu
        idle_context = finish_probe(start_probe(stack, cid, user_id, interval=0.01, count=30 if args.smoke else 200),
                                    stop=False)
        probe_cost = (procstat.sample(stack.pid("memory")).cpu - memory_before) / max(1, idle_context["count"])
        idle_context["memory_cpu_ms_per_call"] = r(probe_cost * 1000, 3)
        names = list(SERVICES) + (["local-edge"] if "edge" in args.path_list else [])
        idle = {name: procstat.sample(stack.pid(name)).rss for name in names}
        meta["context_assembly_idle_ms"] = idle_context
        meta["idle_rss_mb"] = {k: r(v / 2**20, 1) for k, v in idle.items()}
        meta["workers"] = {name: len(procstat.children(stack.pid(name))) for name in names}

        for concurrency in args.level_list:
            tokens = args.caps.get(concurrency, args.tokens)
            stack.upstream("POST", "/_config", {"tokens": tokens})
            duration = tokens / args.rate
            if args.arrival == "steady":
                ramp, window = duration, (args.window or duration)
            else:
                ramp, window = concurrency / args.ramp_rate, 0.0
            timeout = min(args.level_timeout, 60 + ramp + window + 10 * duration)
            for path in args.path_list:
                if path == "direct":
                    target = direct_target(stack, concurrency)
                elif path == "production":
                    target = production_target(stack, concurrency, alb_tokens)
                else:
                    target = edge_target(stack, concurrency, cookies)
                await asyncio.sleep(0.2 if args.smoke else 1.0)  # the previous level's last writes settle
                profile = (out, f"{args.label or 'run'}-c{concurrency}".replace(" ", "_").replace(",", "")) if (args.profile and path == "production"
                                                       and concurrency == max(args.level_list)) else None
                row = await measure(stack, target, concurrency, tokens=tokens, rate=args.rate, ramp=ramp,
                                    timeout=timeout, idle=idle, window=window, probe_cost=probe_cost,
                                    probe=(cid, user_id) if path != "direct" else None, profile=profile)
                results.append(row)
                print(report.one_line(row), flush=True)
        add_overheads(results)
    finally:
        stack.stop()
    data = {"meta": meta, "results": results}
    (out / "results.json").write_text(json.dumps(data, indent=2))
    (out / "results.md").write_text(report.markdown(data))
    report.chart(data, out / "overhead.png")
    if not os.environ.get("BENCH_KEEP_WORKDIR"):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"work directory (logs): {workdir}")
    print(f"results: {out / 'results.json'}, {out / 'results.md'}, {out / 'overhead.png'}", flush=True)
    return data


def main(argv=None) -> int:
    args = parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
