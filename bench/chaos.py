"""rolechat's fault drill under load: N streams through the production path (auth-proxy with an
ALB-signed identity → chat → memory → Redis → the bench upstream), one process killed with SIGKILL
in the middle and restarted on the same port with the same environment, then every conversation
read back to count what was acknowledged and lost.

    .venv/bin/python -m bench.chaos                          # 1000 streams, 200-token answers at 50 tokens/s, kill memory
    .venv/bin/python -m bench.chaos --kill chat --streams 500
    .venv/bin/python -m bench.chaos --smoke                  # 20 streams, 20-token answers, kill memory

Each stream is a new user with a new conversation. The streams start evenly over one answer's
duration; the kill comes halfway through the drill's nominal schedule (ramp + one answer) unless
--kill-after says otherwise. The whole service dies, as a task does: SIGKILL to its process group
(the gunicorn master and its workers; Redis is one process, its append-only file is fsynced on
every write). Then it starts again on the same port.

Acknowledged means: the stream answered HTTP 200 (chat stores the question before it calls the
model, so the question was stored), or the stream ended with `event: done` (chat sends it only
after the answer was stored as `complete`). Lost means an acknowledged question missing from its
conversation, or an acknowledged answer missing, not `complete`, or shorter than what the client
received. The figure that matters is that count; it must be 0. The exit status is 1 when it is not.

Results go to bench/results/ (or --out): chaos.json and chaos.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

from .loadgen import StreamRecord, run_streams
from .run import PROMPT, ROOT, _SESSIONS, _kv, _parallel, pct, production_target, r, workspace
from .stack import BenchStack

KILLABLE = ("memory", "chat", "auth-proxy", "redis")
TOKEN_MARK = "~"
PHASES = ("ended before the kill", "open at the kill", "started while down", "started after the restart")


# --- the fault -------------------------------------------------------------------------------------
def _process(stack: BenchStack, name: str):
    return stack.redis if name == "redis" else stack.services[name]


def kill_and_restart(stack: BenchStack, name: str) -> dict:
    """SIGKILL to the whole process group (master and workers die together, as when a task dies), then
    the same command again: same port, same environment, same Redis directory."""
    process = _process(stack, name)
    old_pid = process.pid
    killed_at = time.perf_counter()
    os.killpg(old_pid, signal.SIGKILL)  # start_new_session=True: the group is this process's own
    try:
        process.proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
    error = None
    try:
        process.start()  # waits until it answers (/healthz, or PING for Redis)
    except Exception as exc:  # noqa: BLE001 - the drill reports it rather than dying with the stack up
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
    back_at = time.perf_counter()
    return {"service": name, "old_pid": old_pid, "new_pid": process.pid, "killed_at": killed_at,
            "back_at": back_at, "down_s": r(back_at - killed_at, 2), "restart_error": error}


# --- reading back ----------------------------------------------------------------------------------
def cid_of(request: bytes) -> str:
    """The conversation id in a pre-built `POST /api/conversations/{cid}/messages` request."""
    return request.split(b" ", 2)[1].decode().split("/")[3]


def read_conversation(base: str, alb_data: str, cid: str, within: float) -> dict | None:
    """The conversation as its owner sees it through the auth-proxy; None if it stays unreadable."""
    deadline = time.monotonic() + within
    while True:
        try:
            response = _SESSIONS.get().get(f"{base}/api/conversations/{cid}",
                                           headers={"x-amzn-oidc-data": alb_data}, timeout=30)
            if response.status_code == 200:
                return response.json()
            if response.status_code == 404:
                return {"messages": [], "missing": True}
        except Exception:  # noqa: BLE001 - storage may still be coming back; try again until the deadline
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(1.0)


def _error_code(record: StreamRecord) -> str:
    if record.outcome == "http_error":
        return record.detail or "?"
    if record.outcome == "stream_error":
        found = re.search(r'"code"\s*:\s*"([^"]+)"', record.detail)
        return found.group(1) if found else "?"
    return record.detail or ""


def check(records: list[StreamRecord], conversations: list[dict | None], tokens: int) -> dict:
    """What was acknowledged, what is stored, and what was lost."""
    acked_questions = acked_answers = 0
    missing_questions = missing_answers = not_complete = stored_short = 0
    unreadable = duplicated = stored_unacked_questions = 0
    stored_answers: dict[str, int] = {}
    examples: list[dict] = []
    for record, conversation in zip(records, conversations):
        if conversation is None:
            unreadable += 1
            messages = []
        else:
            messages = conversation.get("messages") or []
        questions = [m for m in messages if m.get("role") == "user"]
        answers = [m for m in messages if m.get("role") == "assistant"]
        for answer in answers:
            status = str(answer.get("status"))
            stored_answers[status] = stored_answers.get(status, 0) + 1
        if len(questions) > 1:
            duplicated += 1
        question_acked = record.status == 200
        if question_acked:
            acked_questions += 1
            if not any(m.get("content") == PROMPT for m in questions):
                missing_questions += 1
                examples.append({"stream": record.index, "lost": "question", "outcome": record.outcome})
        elif questions:
            stored_unacked_questions += 1
        if record.outcome == "ok":
            acked_answers += 1
            complete = [m for m in answers if m.get("status") == "complete"]
            if not answers:
                missing_answers += 1
                examples.append({"stream": record.index, "lost": "answer missing"})
            elif not complete:
                not_complete += 1
                examples.append({"stream": record.index, "lost": f"answer stored as {answers[-1].get('status')}"})
            elif max(str(m.get("content", "")).count(TOKEN_MARK) for m in complete) < record.tokens:
                stored_short += 1
                examples.append({"stream": record.index, "lost": "answer stored shorter than streamed"})
    lost_answers = missing_answers + not_complete + stored_short
    return {
        "acknowledged_questions": acked_questions, "missing_questions": missing_questions,
        "acknowledged_answers": acked_answers, "missing_answers": missing_answers,
        "answers_not_complete": not_complete, "answers_stored_short": stored_short,
        "lost_answers": lost_answers, "acknowledged_lost": missing_questions + lost_answers,
        "unreadable_conversations": unreadable, "conversations_with_duplicate_questions": duplicated,
        "unacknowledged_questions_stored": stored_unacked_questions,
        "stored_answers_by_status": dict(sorted(stored_answers.items())), "examples": examples[:10],
        "expected_tokens_per_answer": tokens,
    }


def phase_of(record: StreamRecord, fault: dict | None) -> str:
    if fault is None:
        return PHASES[0]
    if record.t_end is not None and record.t_end < fault["killed_at"]:
        return PHASES[0]
    if record.t_start <= fault["killed_at"]:
        return PHASES[1]
    if record.t_start < fault["back_at"]:
        return PHASES[2]
    return PHASES[3]


def tally(records: list[StreamRecord], fault: dict | None) -> tuple[dict, dict, dict]:
    outcomes: dict[str, int] = {}
    by_phase: dict[str, dict[str, int]] = {phase: {} for phase in PHASES}
    codes: dict[str, dict[str, int]] = {}
    for record in records:
        outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
        phase = by_phase[phase_of(record, fault)]
        phase[record.outcome] = phase.get(record.outcome, 0) + 1
        if record.outcome != "ok":
            code = _error_code(record)
            kind = codes.setdefault(record.outcome, {})
            kind[code] = kind.get(code, 0) + 1
    return (dict(sorted(outcomes.items())), {k: dict(sorted(v.items())) for k, v in by_phase.items() if v},
            codes)


# --- the report ------------------------------------------------------------------------------------
def summary(data: dict) -> str:
    meta, fault, checks = data["meta"], data["fault"], data["checks"]
    outcomes = ", ".join(f"{k} {v}" for k, v in data["outcomes"].items())
    errors = "; ".join(f"{kind}: " + ", ".join(f"{code} ×{n}" for code, n in sorted(found.items()))
                       for kind, found in data["error_codes"].items())
    restart = (f"restart failed ({fault['restart_error']})" if fault.get("restart_error")
               else f"back after {fault['down_s']:g} s")
    open_at_kill = data["open_at_kill"]
    return (f"{meta['streams']} streams of {meta['tokens_per_answer']} tokens at {meta['rate']:g} tokens/s through "
            f"the production path; {fault['service']} SIGKILLed at {fault['at_s']:g} s with {open_at_kill} streams "
            f"open, {restart}. Outcomes: {outcomes}" + (f" ({errors})" if errors else "") + ". "
            f"Acknowledged: {checks['acknowledged_questions']} questions (HTTP 200), "
            f"{checks['acknowledged_answers']} answers (`done`); stored answers by status: "
            f"{checks['stored_answers_by_status']}. Acknowledged messages lost: {checks['acknowledged_lost']} "
            f"({checks['missing_questions']} questions, {checks['lost_answers']} answers; "
            f"{checks['unreadable_conversations']} conversations unreadable). Wall time {data['wall_s']:g} s.")


def markdown(data: dict) -> str:
    meta, fault, checks = data["meta"], data["fault"], data["checks"]
    lines = [f"# rolechat fault drill: SIGKILL of {fault['service']} under load ({meta['started_at']})", "",
             f"{meta['cpus']} CPUs, Python {meta['python']}. {meta['streams']} streams (one new user and conversation "
             f"each) through the production path, started over {meta['ramp_s']:g} s; answers of "
             f"{meta['tokens_per_answer']} tokens at {meta['rate']:g} tokens/s. {fault['service']} was killed "
             f"(SIGKILL to its process group) at {fault['at_s']:g} s with {data['open_at_kill']} streams open and "
             f"restarted on the same port: "
             + (f"restart failed: {fault['restart_error']}." if fault.get("restart_error")
                else f"answering again {fault['down_s']:g} s later.")
             + (f" Note: {meta['label']}" if meta.get("label") else ""), "",
             f"**Acknowledged messages lost: {checks['acknowledged_lost']}**", "",
             "| acknowledged | count | lost |", "| --- | ---: | ---: |",
             f"| questions (stream answered HTTP 200) | {checks['acknowledged_questions']} | "
             f"{checks['missing_questions']} |",
             f"| answers (stream ended with `done`) | {checks['acknowledged_answers']} | {checks['lost_answers']} "
             f"(missing {checks['missing_answers']}, not complete {checks['answers_not_complete']}, "
             f"shorter than streamed {checks['answers_stored_short']}) |", "",
             "| outcome | streams |", "| --- | ---: |"]
    lines += [f"| {kind} | {n} |" for kind, n in data["outcomes"].items()]
    lines += ["", "| when the stream started | " + " | ".join(PHASES) + " |",
              "| --- | " + " | ".join("---:" for _ in PHASES) + " |"]
    kinds = sorted(data["outcomes"])
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(str(data["outcomes_by_phase"].get(p, {}).get(kind, 0))
                                                  for p in PHASES) + " |")
    if data["error_codes"]:
        lines += ["", "Errors by code: " + "; ".join(
            f"{kind}: " + ", ".join(f"{code} ×{n}" for code, n in sorted(found.items()))
            for kind, found in data["error_codes"].items()) + "."]
    lines += ["", f"Stored answers by status: {checks['stored_answers_by_status']}; conversations unreadable "
                  f"after the drill: {checks['unreadable_conversations']}; questions stored though their stream "
                  f"was not acknowledged: {checks['unacknowledged_questions_stored']}; conversations with a "
                  f"duplicated question: {checks['conversations_with_duplicate_questions']}.", "",
              "ok: the stream ended with `done`; stream_error: with an `error` event; http_error: a status other "
              "than 200; cut: the connection closed before either; connect_error: no connection; timeout: still "
              "open at the drill's time limit. Phases are relative to the SIGKILL and to the restarted service "
              "answering its first health check.", ""]
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000, help="concurrent streams, one user each")
    parser.add_argument("--kill", choices=KILLABLE, default="memory", help="the process to SIGKILL and restart")
    parser.add_argument("--kill-after", type=float, default=None,
                        help="seconds after the first stream starts (default: half of ramp + one answer)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream")
    parser.add_argument("--timeout", type=float, default=None, help="longest the streams may take (s)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every service (repeatable)")
    parser.add_argument("--smoke", action="store_true", help="20 streams, 20-token answers at 10 tokens/s")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--label", default="", help="a note stored with the results")
    args = parser.parse_args(argv)
    if args.smoke:
        args.streams, args.tokens, args.rate = 20, 20, 10.0
    if args.streams < 1 or args.tokens < 1 or args.rate <= 0:
        parser.error("--streams and --tokens must be positive, --rate above 0")
    return args


async def run(args) -> dict:
    out, workdir = workspace(args.out, "rolechat-chaos-")
    stack = BenchStack(workdir, tokens=args.tokens, rate=args.rate,
                       service_env={"LOG_LEVEL": "INFO", **_kv(args.env)})
    duration = args.tokens / args.rate
    ramp = duration
    kill_after = args.kill_after if args.kill_after is not None else (ramp + duration) / 2
    timeout = args.timeout or 300 + ramp + 20 * duration
    meta = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "label": args.label,
            "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "streams": args.streams, "tokens_per_answer": args.tokens, "rate": args.rate, "ramp_s": r(ramp),
            "kill": args.kill, "kill_after_s": r(kill_after), "timeout_s": r(timeout), "env": _kv(args.env),
            "smoke": args.smoke}
    try:
        stack.start()
        base = stack.url("auth-proxy")
        # warm-up: one short answer (key fetch, connection pools, imports), on users of its own
        stack.upstream("POST", "/_config", {"tokens": 5})
        warm = production_target(stack, 2, {})
        await run_streams(warm, 2, ramp=0, timeout=30)
        stack.upstream("POST", "/_config", {"tokens": args.tokens})

        alb: dict[int, str] = {}
        target = production_target(stack, args.streams, alb)  # creates the users' conversations
        cids = [cid_of(request) for request in target.requests]
        records_ref: list[list[StreamRecord]] = []
        fault: dict = {}

        async def strike(started: float):
            await asyncio.sleep(max(0.0, started + kill_after - time.perf_counter()))
            records = records_ref[0] if records_ref else []
            fault["open"] = sum(1 for rec in records if rec.t_end is None)
            fault.update(await asyncio.get_running_loop().run_in_executor(None, kill_and_restart, stack, args.kill))

        print(f"{args.streams} streams over {ramp:g} s; SIGKILL of {args.kill} at {kill_after:g} s", flush=True)
        started = time.perf_counter()
        striker = asyncio.ensure_future(strike(started))
        records = await run_streams(target, args.streams, ramp=ramp, timeout=timeout, on_start=records_ref.append)
        streams_done = time.perf_counter()
        await striker  # the restart may outlast the streams (e.g. a kill after they all ended)
        wall = time.perf_counter() - started
        await asyncio.sleep(1.0)  # answers of cut streams are stored as they end; let the last writes land
        by_user = {rec.user: rec for rec in records}  # one stream per user: user i sent requests[i]
        records = [by_user.get(i) or StreamRecord(-1, user=i, outcome="not_started") for i in range(args.streams)]
        conversations = _parallel(lambda i: read_conversation(base, alb[i], cids[i], within=60),
                                  range(args.streams))
    finally:
        stack.stop()

    outcomes, by_phase, codes = tally(records, fault)
    ttft = [(rec.t_first - rec.t_start) * 1000 for rec in records if rec.t_first is not None]
    fault_out = {"service": fault["service"], "at_s": r(fault["killed_at"] - started, 2), "down_s": fault["down_s"],
                 "old_pid": fault["old_pid"], "new_pid": fault["new_pid"], "restart_error": fault["restart_error"]}
    data = {"meta": meta, "fault": fault_out, "open_at_kill": fault["open"], "wall_s": r(wall, 1),
            "streams_s": r(streams_done - started, 1), "outcomes": outcomes, "outcomes_by_phase": by_phase,
            "error_codes": codes, "ttft_ms": {"p50": r(pct(ttft, 50)), "p99": r(pct(ttft, 99))},
            "checks": check(records, conversations, args.tokens)}
    data["summary"] = summary(data)
    (out / "chaos.json").write_text(json.dumps(data, indent=2))
    (out / "chaos.md").write_text(markdown(data))
    if os.environ.get("BENCH_KEEP_WORKDIR"):
        print(f"work directory (logs): {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(data["summary"], flush=True)
    print(f"results: {out / 'chaos.json'}, {out / 'chaos.md'}", flush=True)
    return data


def main(argv=None) -> int:
    data = asyncio.run(run(parse_args(argv)))
    return 1 if data["checks"]["acknowledged_lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
