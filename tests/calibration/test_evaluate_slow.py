"""Pseudo-online scoring on held-out real recordings (slow; skipped without ../shared/data).

Each scenario calibrates with its shipped config, then ``bci evaluate`` decodes files the
decoder never saw with the live pipeline in virtual time; its trial accuracy must match the
same model scored epoch by epoch (as calibration computes it) within 0.05.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_evaluate", ROOT / "tools" / "bench_evaluate.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.timeout(1200)  # about 5 min on the 2-core VM with every shipped strategy
def test_pseudo_online_matches_offline_on_held_out_files(shared_data: Path, tmp_path: Path) -> None:
    bench = _bench()
    assert bench.DATA.resolve() == shared_data.resolve()
    rows = bench.run(out_dir=tmp_path)
    assert len(rows) == 3, [r["name"] for r in rows]
    for r in rows:
        assert abs(r["difference"]) <= 0.05, r
        assert r["n_trials"] >= 80 and r["p_value"] < 1e-6, r
        assert r["online_trial_accuracy"] > r["chance"] + 0.2, r
        assert r["realtime_factor"] >= 100, r
    by = {r["name"].split(":")[0]: r for r in rows}
    assert by["myo-wrist-gestures/12345"]["decisions"] == "sliding windows"
    assert by["muse-ssvep/subject1"]["decisions"] == "event-locked"
    for cfg_set in ("myo-wrist-gestures", "muse-ssvep", "xdf-openbci-emg-gestures"):
        assert (tmp_path / cfg_set / "report.md").is_file()
