"""The closed loop against the simulated participant: optimized stimuli beat the baselines."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from scipy import stats

from bci.config import SessionConfig, SimulatedSourceConfig
from bci.config._closed_loop import ClosedLoopConfig
from bci.stimuli import run_closed_loop
from bci.stimuli._loop import ClosedLoop, LoopResult, OfflineParticipant, grating, ssvep_amplitude

OPT_IN = {"screened_participant": True, "screened_reason": "simulated participant (no human)"}


def _run_seed(seed: int, rounds: int = 20) -> dict[str, np.ndarray]:
    cl = ClosedLoopConfig(
        seed=seed,
        rounds=rounds,
        model={"image_size": 32},
        optimizer={"steps": 60, "threads": 1},
        safety=OPT_IN,
    )
    src = SimulatedSourceConfig(seed=seed, paradigm="none")
    loop = ClosedLoop(cl, OfflineParticipant(src, cl, seed))
    return LoopResult(None, loop.run()).table()


def test_ssvep_amplitude_measures_the_frequency():
    sf, f = 250.0, 7.5
    t = np.arange(500) / sf
    x = np.stack([3.0 * np.sin(2 * np.pi * f * t), np.random.default_rng(0).standard_normal(500)])
    a = ssvep_amplitude(x, sf, f, harmonics=1, skip=0.0)
    assert 1.3 < a < 1.8  # (3 + ~0) / 2 channels
    assert ssvep_amplitude(x[1:], sf, f, harmonics=1, skip=0.0) < 0.3


def _check(tables: list[dict[str, np.ndarray]]) -> dict:
    out = {}
    for base in ("random", "grating"):
        diff = np.concatenate([t["optimized"] - t[base] for t in tables])
        per_seed = np.array([np.mean(t["optimized"] - t[base]) for t in tables])
        p = stats.wilcoxon(diff, alternative="greater").pvalue
        out[base] = (p, per_seed)
        assert p < 0.01, (
            f"optimized vs {base}: paired Wilcoxon p={p:.3g}, per-seed mean gain {per_seed}"
        )
        assert (per_seed > 0).all(), f"optimized must beat {base} in every seed: {per_seed}"
    return out


def test_optimized_beats_random_and_grating_over_seeds():
    """3 participants (seeds) x 20 rounds; paired one-sided Wilcoxon over the 60 round pairs."""
    _check([_run_seed(s) for s in (0, 1, 2)])


@pytest.mark.slow
def test_optimized_beats_baselines_more_seeds():
    res = _check([_run_seed(s) for s in range(6)])
    for base, (p, gains) in res.items():
        print(f"{base}: p={p:.2e} gains={np.round(gains, 2)}")  # noqa: T201


def test_run_closed_loop_writes_report(tmp_path):
    import pyxdf

    cfg = SessionConfig(
        name="cltest",
        sources=[{"kind": "simulated", "seed": 3, "paradigm": "none"}],
        closed_loop={
            "rounds": 2,
            "calibration_trials": 4,
            "report_dir": str(tmp_path),
            "safety": OPT_IN,
            "model": {"image_size": 32},
            "optimizer": {"steps": 10, "threads": 1},
        },
    )
    report = run_closed_loop(cfg)
    data = json.loads((report / "rounds.json").read_text())
    conds = [t["condition"] for t in data["trials"]]
    assert (
        conds.count("calibration") == 4
        and conds.count("optimized") == 2
        and conds.count("grating") == 2
    )
    # every shown stimulus carries its safety record (the opt-in and its clamps)
    assert all("clamps" in t["description"]["safety"] for t in data["trials"])
    assert any(t["description"]["safety"]["opt_in"] for t in data["trials"])
    assert (report / "objective.png").stat().st_size > 5000 and (report / "stimuli.png").exists()
    streams, _ = pyxdf.load_xdf(str(report / "closed_loop.xdf"))
    by_type = {s["info"]["type"][0]: s for s in streams}
    assert len(by_type["Markers"]["time_series"]) == len(conds)
    assert np.all(np.diff(by_type["EEG"]["time_stamps"]) > 0)


def test_unsafe_loop_without_opt_in_fails_loudly(tmp_path):
    from bci import SafetyError

    cfg = SessionConfig(
        sources=[{"kind": "simulated", "paradigm": "none"}],
        closed_loop={"rounds": 1, "calibration_trials": 2, "report_dir": str(tmp_path)},
    )
    with pytest.raises(SafetyError, match="screened_participant"):
        run_closed_loop(cfg)


def test_grating_has_the_configured_contrast():
    g = grating(64, 0.2)
    assert abs(g.std() - 0.2) < 0.01 and abs(g.mean() - 0.5) < 0.01


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run)")
def test_live_loop_presenter_and_lsl_participant(tmp_path, uid):
    cfg = SessionConfig(
        name="cllive",
        sources=[
            {
                "kind": "simulated",
                "seed": 1,
                "paradigm": "none",
                "name": f"bci-sim-{uid}",
                "truth": f"bci-sim-truth-{uid}",
            }
        ],
        closed_loop={
            "mode": "live",
            "rounds": 1,
            "calibration_trials": 2,
            "trial_duration": 1.0,
            "iti": 0.2,
            "report_dir": str(tmp_path),
            "safety": OPT_IN,
            "model": {"image_size": 32},
            "optimizer": {"steps": 5, "threads": 1},
            "presenter": {
                "size": [400, 300],
                "marker_stream": f"bci-markers-{uid}",
                "description_stream": f"bci-stimuli-{uid}",
            },
        },
    )
    report = run_closed_loop(cfg)
    data = json.loads((report / "rounds.json").read_text())
    measured = [t["measured"] for t in data["trials"]]
    assert len(measured) == 5 and all(np.isfinite(measured)) and min(measured) > 0


def test_measure_through_the_decoder(tmp_path):
    from bci._decoder import default_decoder_path

    if not default_decoder_path().exists():
        pytest.skip("no default decoder shipped yet")
    cfg = SessionConfig(
        sources=[{"kind": "simulated", "seed": 2, "paradigm": "none"}],
        closed_loop={
            "rounds": 2,
            "calibration_trials": 3,
            "report_dir": str(tmp_path),
            "safety": OPT_IN,
            "frequency": 10.0,
            "measure": {"feature": "decoder"},
            "model": {"image_size": 32},
            "optimizer": {"steps": 5, "objective": "decoder", "decoder_output": 1},
        },
    )
    report = run_closed_loop(cfg)
    data = json.loads((report / "rounds.json").read_text())
    measured = np.array([t["measured"] for t in data["trials"]])
    assert len(measured) == 9 and np.all((measured >= 0) & (measured <= 1))
    # a 10 Hz flicker is decoded as the "10.0" class (output 1) most of the time
    assert np.median(measured) > 0.5
