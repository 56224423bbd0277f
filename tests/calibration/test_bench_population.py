"""The cross-user benchmark's candidate choice: foundation strategies alone, no classical ones."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_population", ROOT / "tools" / "bench_population.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_only_the_foundation_strategy_on_the_users_own_trials(shared_data: Path) -> None:
    bench = _bench()
    assert bench.DATA.resolve() == shared_data.resolve()
    res = bench.run_set(
        "muse-n170",
        n_per_class=[5],
        foundation=["linear_probe"],
        progress=False,
        test_subjects=["subject10"],
        classical=[],
        pooled_foundation=False,
    )
    assert {r["candidate"] for r in res["rows"]} == {"linear_probe"}
    assert {r["subject"] for r in res["rows"]} == {"subject10"}
    assert all(0.0 <= r["score"] <= 1.0 for r in res["rows"])
