"""bench/sync_bench.py on a few hundred traces, so that it cannot rot: the generated
source syncs completely, every run the Langflow-like writer commits is seen, and the
report is written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sync_bench_on_300_traces(tmp_path: Path) -> None:
    out = tmp_path / "sync.md"
    command = [sys.executable, "-m", "bench.sync_bench", "--backend", "sqlite"]
    command += ["--traces", "300", "--small", "100", "--rate", "10", "--seconds", "2"]
    command += ["--out", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=240)

    report = out.read_text()
    # After the first sync: the fixture's 14 traces, the 300 generated, and the fixture's
    # job in flight.
    assert "315 runs synced" in report
    assert "first sync of 314 traces" in report
    assert re.search(r"follow mode: 20 runs written .* 0 not seen", report)
