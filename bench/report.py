"""The benchmark's results as a Markdown table and a PNG chart (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path

SERVICES = ("auth-proxy", "chat", "memory")


def _f(value, unit: str = "") -> str:
    return "–" if value is None else f"{value:g}{unit}"


def one_line(row: dict) -> str:
    t = row["ttft_ms"]
    return (f"{row['path']:>10} C={row['concurrency']:<5} ok={row['ok']}/{row['streams']} errors={row['errors']} "
            f"cut={row['cut']} ttft p50={_f(t['p50'])}ms p99={_f(t['p99'])}ms "
            f"gap p99={_f(row['token_gap_ms']['p99'])}ms stretch={_f(row['stretch']['p50'])} "
            f"stack={_f(row['stack_us_per_token'])}us/token wall={row['wall_s']}s")


def markdown(data: dict) -> str:
    meta, rows = data["meta"], data["results"]
    lines = [f"# rolechat benchmark ({meta['started_at']})", "",
             f"{meta['cpus']} CPUs, Python {meta['python']}; answers of {meta['tokens_per_answer']} tokens at "
             f"{meta['rate']:g} tokens/s" + (f" (capped: {meta['token_caps']})" if meta["token_caps"] else "")
             + f"; streams opened at {meta['ramp_rate']:g}/s; workers per service: {meta.get('workers')}."
             + (f" Note: {meta['label']}" if meta.get("label") else ""), "",
             "| path | C | ok / streams | errors (cut) | TTFT p50 / p99 ms | TTFT overhead p50 / p99 ms "
             "| token gap p99 ms (added) | stretch p50 | events/token | stack µs/token | auth-proxy / chat / memory µs/token "
             "| KB/stream auth-proxy / chat / memory | context GET p50 / p99 ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        t, o = row["ttft_ms"], row.get("ttft_overhead_ms") or {}
        cpu = row["cpu"]
        per = " / ".join(_f(cpu.get(s, {}).get("us_per_token")) for s in SERVICES) if row["path"] != "direct" else "–"
        mem = " / ".join(_f((row["memory"].get(s) or {}).get("kb_per_stream")) for s in SERVICES) \
            if row["path"] != "direct" else "–"
        ctx = row.get("context_assembly_ms") or {}
        added = row.get("added_token_gap_p99_ms")
        lines.append(
            f"| {row['path']} | {row['concurrency']} | {row['ok']} / {row['streams']} | {row['errors']} ({row['cut']}) "
            f"| {_f(t['p50'])} / {_f(t['p99'])} | {_f(o.get('p50'))} / {_f(o.get('p99'))} "
            f"| {_f(row['token_gap_ms']['p99'])}" + (f" ({_f(added)})" if added is not None else "") +
            f" | {_f(row['stretch']['p50'])} | {_f(row['events_per_token'])} | {_f(row['stack_us_per_token'])} "
            f"| {per} | {mem} | {_f(ctx.get('p50_ms'))} / {_f(ctx.get('p99_ms'))} |")
    lines += ["", "Load generator and upstream CPU (µs per token), to show the harness itself is not the limit:", "",
              "| path | C | load generator | upstream |", "| --- | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row['path']} | {row['concurrency']} | {_f(row['cpu']['load-generator']['us_per_token'])} "
                     f"| {_f(row['cpu']['upstream']['us_per_token'])} |")
    idle = meta.get("context_assembly_idle_ms") or {}
    lines += ["", f"Context assembly at idle (memory `GET /api/conversations/{{id}}?last=50`, 20 messages): "
                  f"p50 {_f(idle.get('p50_ms'))} ms, p99 {_f(idle.get('p99_ms'))} ms. "
                  f"Idle RSS (MB): {meta.get('idle_rss_mb')}.", "",
              "TTFT: from connecting to the first token. Overhead: minus the direct path at the same C. "
              "Token gap: time between consecutive tokens as the client sees them (coalesced tokens count 0); "
              "added = minus direct. Stretch: a stream's duration over its nominal duration at the set rate. "
              "CPU: /proc utime+stime of each gunicorn master and its workers over the level, per token relayed. "
              "KB/stream: RSS with the most streams open, minus idle RSS, per open stream.", ""]
    return "\n".join(lines)


def chart(data: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["results"]
    paths = [p for p in data["meta"]["paths"] if p != "direct"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for p in paths:
        mine = sorted((row for row in rows if row["path"] == p), key=lambda row: row["concurrency"])
        cs = [row["concurrency"] for row in mine]
        for q, style in (("p50", "-o"), ("p99", "--o")):
            axes[0].plot(cs, [(row.get("ttft_overhead_ms") or {}).get(q) for row in mine], style, label=f"{p} {q}")
        axes[1].plot(cs, [row.get("added_token_gap_p99_ms") for row in mine], "-o", label=p)
        axes[2].plot(cs, [row.get("stack_us_per_token") for row in mine], "-o", label=p)
    axes[0].set_title("TTFT overhead over direct (ms)")
    axes[1].set_title("added inter-token delay p99 (ms)")
    axes[2].set_title("CPU per relayed token, auth-proxy+chat+memory (µs)")
    for ax in axes:
        ax.set_xlabel("concurrent streams")
        ax.set_xscale("symlog", linthresh=10)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"rolechat overhead vs concurrency ({data['meta']['started_at']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
