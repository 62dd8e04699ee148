"""The benchmark harness works end to end (`python -m bench --smoke`). Timings are never asserted:
only that it runs, writes its result files with the expected figures, and streams without errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_writes_results(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    for name in ("results.json", "results.md", "overhead.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "overhead.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    data = json.loads((tmp_path / "results.json").read_text())
    assert {"meta", "results"} <= set(data)
    assert {"context_assembly_idle_ms", "idle_rss_mb", "levels", "paths"} <= set(data["meta"])
    rows = data["results"]
    assert {(row["path"], row["concurrency"]) for row in rows} == {
        ("direct", 1), ("production", 1), ("direct", 5), ("production", 5)}
    for row in rows:
        assert {"ttft_ms", "token_gap_ms", "errors", "cut", "cpu", "memory", "tokens_relayed",
                "stretch", "worker_restarts"} <= set(row)
        assert {"p50", "p99"} <= set(row["ttft_ms"])
        assert row["errors"] == 0 and row["cut"] == 0, row
        assert row["ok"] == row["streams"] == row["concurrency"], row
        assert row["tokens_relayed"] == row["concurrency"] * row["tokens_per_answer"], row
        assert "load-generator" in row["cpu"] and "upstream" in row["cpu"]
        if row["path"] == "production":
            assert {"auth-proxy", "chat", "memory"} <= set(row["cpu"]) and set(row["memory"]) == {
                "auth-proxy", "chat", "memory"}
            assert {"p50", "p99"} <= set(row["ttft_overhead_ms"])
            assert "added_token_gap_p99_ms" in row
            assert row["context_assembly_ms"]["count"] > 0
    assert "| production |" in (tmp_path / "results.md").read_text()


def test_bench_floor_reads_every_token_on_every_path(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.floor", "--streams", "3", "--tokens", "20", "--rate", "200",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads((tmp_path / "floor.json").read_text())["results"]
    assert [row["path"] for row in rows] == ["sdk-httpx", "chat", "raw-socket", "relay-hop"]
    # the role chunk, 20 tokens and the finishing chunk of each of the 3 streams, on every path
    assert [row["tokens"] for row in rows] == [3 * 22] * 4
    assert all(row["us_per_token"] >= 0 for row in rows)  # a tiny run may take less than a clock tick
