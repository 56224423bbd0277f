"""Calibration figures on the full shared data (slow; skipped on a fresh clone)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_calibration", ROOT / "tools" / "bench_calibration.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(shared_data: Path, only: str) -> list[dict]:
    bench = _bench()
    assert bench.DATA.resolve() == shared_data.resolve()
    return bench.run(only=only)


def test_muse_ssvep_95(shared_data: Path) -> None:
    (r,) = _run(shared_data, "muse-ssvep")
    assert r["accuracy"] >= 0.95 and "fbcca" in r["baselines"]
    assert r["seconds"] <= 120


def test_myo_loso_90(shared_data: Path) -> None:
    rows = _run(shared_data, "myo-wrist-gestures")
    assert len(rows) == 2 and all("td_lda" in r["baselines"] for r in rows)
    assert np.mean([r["accuracy"] for r in rows]) >= 0.90


def test_openbci_emg_90_per_file(shared_data: Path) -> None:
    rows = _run(shared_data, "xdf-openbci-emg-gestures")
    assert len(rows) == 4
    assert all(r["trial_accuracy"] >= 0.90 for r in rows), rows


@pytest.mark.xfail(
    strict=True,
    reason="target not met: subject1 AUC 0.773 (P300) and 0.705 (N170) with the "
    "exportable pipelines tried",
)
def test_muse_erp_subject1_auc(shared_data: Path) -> None:
    rows = {r["name"]: r for r in _run(shared_data, "subject1") if r["name"].startswith("muse-")}
    assert rows["muse-p300/subject1"]["auc"] >= 0.78
    assert rows["muse-n170/subject1"]["auc"] >= 0.72


def test_every_set_reports_pretrained_vs_scratch_within_2_min(shared_data: Path) -> None:
    rows = _run(shared_data, "muse-")
    assert {r["name"] for r in rows} >= {"muse-p300/subject1", "muse-n170/subject1"}
    for r in rows:
        assert {"linear_probe", "full", "scratch"} <= set(r["strategies"]), r
        assert r["seconds"] <= 120, r


@pytest.mark.timeout(1500)  # all 12 scenarios: about 11 min on the 2-core VM
def test_shipped_encoder_not_worse_than_scratch_on_average(shared_data: Path) -> None:
    """Point 5: the shipped pretrained encoder (linear probe) vs the same architecture from
    scratch, averaged over every scenario and over the 6 sets (users/files averaged first)."""
    rows = _run(shared_data, "")
    assert len(rows) == 12
    by_set: dict[str, list[dict]] = {}
    for r in rows:
        by_set.setdefault(r["name"].split("/")[0], []).append(r)

    def mean(key: str, groups: list[list[dict]]) -> float:
        return float(np.mean([np.mean([r["strategies"][key] for r in g]) for g in groups]))

    for groups in ([[r] for r in rows], list(by_set.values())):
        assert mean("linear_probe", groups) >= mean("scratch", groups)
