"""The context assembly benchmark runs and writes its results (tiny sizes; no timing is asserted)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.support.processes import ROOT


def test_context_assembly_benchmark_writes_its_results(tmp_path):
    completed = subprocess.run([sys.executable, str(ROOT / "bench" / "context_assembly.py"), "--sizes", "5,60",
                                "--repeat", "1", "--out", str(tmp_path)], cwd=ROOT, capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads((tmp_path / "context_assembly.json").read_text())
    assert {"benchmark", "window", "budget", "repeat", "tokenizer", "results"} <= set(result)
    assert [r["messages"] for r in result["results"]] == [5, 60]
    for row in result["results"]:
        assert {"median_ms", "p95_ms", "messages_read", "pages_read", "messages_sent", "omitted_messages"} <= set(row)
    assert (tmp_path / "context_assembly.md").read_text().startswith("# Context assembly time")
