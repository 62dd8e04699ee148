"""Context-assembly probe: times memory's `GET /api/conversations/{id}?last=N`, the read chat makes
before every turn, at a steady pace, from its own process (so the load generator's busy event
loop does not add to the figures). Prints a JSON list of latencies in milliseconds on SIGTERM or
after --duration seconds.

    python -m bench.probe --memory URL --conversation ID --user-id UID --secret S [--interval 0.2]
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time

import requests

from rolechat_common import identity as ident


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", required=True)
    parser.add_argument("--conversation", required=True)
    parser.add_argument("--user-id", required=True)
    parser.add_argument("--username", default="bench-probe")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--last", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--count", type=int, default=0, help="stop after this many calls (0: no limit)")
    args = parser.parse_args(argv)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    who = ident.Identity(args.user_id, args.username, ())
    session = requests.Session()
    session.trust_env = False
    url = f"{args.memory}/api/conversations/{args.conversation}?last={args.last}"
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + args.duration
    while not stopping and time.monotonic() < deadline and (not args.count or len(latencies) + errors < args.count):
        token = ident.mint(who, args.secret, ident.ISSUER_CHAT, request_id="bench-probe")
        started = time.perf_counter()
        try:
            response = session.get(url, headers={ident.IDENTITY_HEADER: token}, timeout=10)
            response.content
            if response.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1
        except requests.RequestException:
            errors += 1
        if args.interval:
            time.sleep(args.interval)
    print(json.dumps({"latencies_ms": latencies, "errors": errors}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
