"""Cross-user acceptance on the shared data (slow; skipped on a fresh clone).

Leave-one-subject-out on Muse P300, Muse N170 and Myo wrist gestures with 20 calibration
trials per class from the new user: the foundation-model strategy chosen by inner
cross-validation on those trials against the best classical pipeline given the same
population and trials (``tools/bench_population.py``; figures in docs/population.md).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
SETS = ("muse-p300", "muse-n170", "myo-wrist-gestures")


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_population", ROOT / "tools" / "bench_population.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def results(shared_data: Path) -> dict[str, dict]:
    bench = _bench()
    assert bench.DATA.resolve() == shared_data.resolve()
    return {s: bench.run_set(s, n_per_class=[5, 20], progress=False) for s in SETS}


def test_every_subject_is_a_new_user_once(results: dict[str, dict]) -> None:
    for name, r in results.items():
        assert len(r["subjects"]) == 4, name
        assert {s["subject"] for s in r["selection"]} == set(r["subjects"]), name
        for s in r["selection"]:
            # chosen on the calibration trials: inner-CV scores exist for every candidate
            assert s["foundation"]["chosen"] in s["foundation"]["inner_cv"]
            assert s["classical"]["chosen"] in s["classical"]["inner_cv"]
        for row in r["rows"]:
            if row["n_per_class"] == 20:
                assert max(row["calibration_trials"].values()) <= (
                    20 if name == "myo-wrist-gestures" else 200
                )


def test_population_helps_with_few_trials(results: dict[str, dict]) -> None:
    """With 5 trials per class, pooling other users beats the user's trials alone."""
    gains = []
    for r in results.values():
        curve = r["summary"]["curve"]
        base = "features"
        gains.append(curve["pop_" + base]["5"] - curve[base]["5"])
    assert np.mean(gains) > 0.0, gains


def test_foundation_above_chance(results: dict[str, dict]) -> None:
    chance = {"muse-p300": 0.5, "muse-n170": 0.5, "myo-wrist-gestures": 1 / 8}
    for name, r in results.items():
        assert r["summary"]["foundation_chosen"] > chance[name] + 0.03, name


@pytest.mark.xfail(
    strict=True,
    reason="measured gap: the foundation-model choice is below the best classical pipeline "
    "on the mean over the three sets (docs/population.md)",
)
def test_foundation_at_least_classical(results: dict[str, dict]) -> None:
    fm = np.mean([r["summary"]["foundation_chosen"] for r in results.values()])
    classical = np.mean([r["summary"]["classical_best_on_test"] for r in results.values()])
    assert fm >= classical
