"""The fault drill works end to end (`python -m bench.chaos --smoke`: 20 streams, memory SIGKILLed and
restarted halfway). Timings are never asserted; only that it runs, writes its report with the
acknowledged-and-lost count computed, and that no acknowledged message was lost (a correctness property)."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.support.processes import ROOT


def test_bench_chaos_smoke_writes_its_report(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.chaos", "--smoke", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert (tmp_path / "chaos.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]

    data = json.loads((tmp_path / "chaos.json").read_text())
    assert {"meta", "fault", "outcomes", "outcomes_by_phase", "checks", "summary"} <= set(data)
    assert data["meta"]["streams"] == 20 and data["fault"]["service"] == "memory"
    assert data["fault"]["restart_error"] is None, data["fault"]
    assert sum(data["outcomes"].values()) == 20, data["outcomes"]
    checks = data["checks"]
    assert {"acknowledged_questions", "acknowledged_answers", "missing_questions", "lost_answers",
            "acknowledged_lost", "unreadable_conversations"} <= set(checks)
    assert checks["acknowledged_lost"] == 0, (checks, data["summary"])
    assert checks["unreadable_conversations"] == 0, checks
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Acknowledged messages lost: 0" in (tmp_path / "chaos.md").read_text().replace("**", "")
    assert "Acknowledged messages lost: 0" in done.stdout
