"""Scoring decisions against a recording's labels (bci._scoring) and ``bci evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from recordings import Generated
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from bci._scoring import (
    TrialSpan,
    auc_score,
    balanced_accuracy,
    binomial_p_value,
    classification_metrics,
    confusion,
    cut_trials,
    itr_bits_per_min,
    label_segments,
    match_decisions,
    summarize,
)
from bci.config._calibration import CalibrationConfig
from bci.config._load import parse_config

ROOT = Path(__file__).resolve().parents[2]


def _cfg(name: str, **update) -> CalibrationConfig:
    data = yaml.safe_load((ROOT / "configs" / f"calibrate_{name}.yaml").read_text())
    for key, value in update.items():
        if key == "epochs":
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, CalibrationConfig)


def test_metrics_agree_with_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    proba[np.arange(100), y[:100]] += 1.0  # half of them right
    pred = proba.argmax(1)
    cm = confusion(y, pred, 3)
    assert balanced_accuracy(cm) == pytest.approx(balanced_accuracy_score(y, pred))
    yb = y == 1
    score = proba[:, 1]
    assert auc_score(yb, score) == pytest.approx(roc_auc_score(yb, score))
    tied = np.round(score, 1)  # ties count half, as sklearn
    assert auc_score(yb, tied) == pytest.approx(roc_auc_score(yb, tied))
    m = classification_metrics(y, proba, 3)
    assert m["accuracy"] == pytest.approx((pred == y).mean())
    assert m["confusion"] == cm.tolist() and "auc" not in m
    assert binomial_p_value(10, 10, 0.5) == pytest.approx(0.5**10)
    assert itr_bits_per_min(1.0, 2, 60.0) == pytest.approx(1.0)
    assert itr_bits_per_min(0.5, 2, 1.0) == 0.0
    # Wolpaw: 4 classes at 90 % in 4 s
    bits = 2 + 0.9 * np.log2(0.9) + 0.1 * np.log2(0.1 / 3)
    assert itr_bits_per_min(0.9, 4, 4.0) == pytest.approx(bits * 15)


def test_cut_trials_onset_start_end_and_label_segments() -> None:
    cfg = _cfg("muse-ssvep")
    onset = cut_trials([(10.0, "1"), (14.0, "2"), (15.0, "9")], cfg, 100.0)
    assert onset == [TrialSpan(10.0, 10.5, 13.0, 0), TrialSpan(14.0, 14.5, 17.0, 1)]
    cfg = _cfg("xdf-openbci-emg-gestures")
    se = cut_trials([(1.0, "0s"), (2.5, "0e"), (3.0, "3"), (4.0, "3")], cfg, 10.0)
    assert se == [TrialSpan(1.0, 1.0, 2.5, 0), TrialSpan(3.0, 3.0, 4.0, 3)]
    cfg = _cfg("myo-wrist-gestures")
    markers = [(0.0, "0"), (5.0, "7"), (10.0, "7"), (12.0, "0")]
    # a repeated label continues its segment; the last one runs to the end of the file
    assert label_segments(markers, cfg.mapping, 20.0) == [
        (0.0, 5.0, "rest"),
        (5.0, 12.0, "fist"),
        (12.0, 20.0, "rest"),
    ]
    lab = cut_trials(markers, cfg, 20.0)
    assert lab[1] == TrialSpan(5.0, 5.5, 12.0, 7)


def _sliding(t0: float, t1: float, win: float, hop: float):
    t_last = np.arange(t0 + win, t1 + 1e-9, hop)
    return t_last - win, t_last


def test_match_and_summarize_sliding_windows() -> None:
    """Two 4-s trials with 2-s rest around them, 1-s windows every 0.5 s, known decisions."""
    cfg = _cfg("xdf-openbci-emg-gestures", classes=["a", "b"], mapping={"1": "a", "2": "b"})
    markers = [(2.0, "1s"), (6.0, "1e"), (8.0, "2s"), (12.0, "2e")]
    trials = cut_trials(markers, cfg, 14.0)
    t_first, t_last = _sliding(0.0, 14.0, 1.0, 0.5)
    n = len(t_last)
    label = np.full(n, -1)
    probs = np.full((n, 2), 0.5)
    in_a = (t_first >= 2.0) & (t_last <= 6.0)
    in_b = (t_first >= 8.0) & (t_last <= 12.0)
    probs[in_a] = [0.9, 0.1]
    probs[in_b] = [0.2, 0.8]
    late_b = in_b & (t_last >= 10.0)  # the emitted label only comes 2 s into trial b
    label[in_a] = 0
    label[late_b] = 1
    rest_windows = (t_last <= 2.0) | ((t_first >= 6.0) & (t_last <= 8.0)) | (t_first >= 12.0)
    fa = np.flatnonzero(rest_windows)[:3]
    label[fa] = 1  # three false activations in rest
    s = match_decisions("x", t_first, t_last, t_last, probs, label, trials, t_begin=0.0, t_end=14.0)
    assert s.n_decisions == n and s.unscored_trials == 0
    assert len(s.window_y) == in_a.sum() + in_b.sum()
    np.testing.assert_allclose(s.first_correct_s, [1.0, 2.0])  # first window ends 1 s in
    assert s.rest_s == pytest.approx(2.0 + 2.0 + 2.0)
    assert s.false_activations == 3 and s.rest_decisions == rest_windows.sum()
    m = summarize([s], 2, positive=1)
    assert m["trials"]["accuracy"] == 1.0 and m["windows"]["accuracy"] == 1.0
    assert m["trials"]["auc"] == 1.0 and m["time_to_first_correct_s"]["median"] == 1.5
    assert m["selection_s"] == 6.0
    assert m["itr_bits_per_min"] == pytest.approx(10.0)  # 1 bit per 6 s
    assert m["rest"]["per_min"] == pytest.approx(3 / 0.1)
    # a rest class: its trials count as rest, its label is never a false activation
    cfg = _cfg("xdf-openbci-emg-gestures", classes=["a", "rest"], mapping={"1": "a", "2": "rest"})
    trials = cut_trials(markers, cfg, 14.0)
    s = match_decisions(
        "x", t_first, t_last, t_last, probs, label, trials, t_begin=0.0, t_end=14.0, rest_class=1
    )
    assert s.rest_s == pytest.approx(10.0) and s.false_activations == 0


def test_trial_accuracy_averages_the_windows_of_a_trial() -> None:
    cfg = _cfg("muse-ssvep", epochs={"tmin": 0.0, "tmax": 3.0})
    trials = cut_trials([(0.0, "1"), (5.0, "2")], cfg, 10.0)
    t_first, t_last = _sliding(0.0, 10.0, 1.0, 1.0)
    probs = np.tile([0.5, 0.5], (len(t_last), 1))
    probs[0:3] = [[0.4, 0.6], [0.45, 0.55], [1.0, 0.0]]  # 1 of 3 windows right, mean right
    probs[5:8] = [[0.0, 1.0], [0.6, 0.4], [0.6, 0.4]]  # 1 of 3 right, mean right
    label = probs.argmax(1)
    s = match_decisions("x", t_first, t_last, t_last, probs, label, trials, t_begin=0, t_end=10)
    m = summarize([s], 2)
    assert m["windows"]["accuracy"] == pytest.approx(2 / 6)
    assert m["trials"]["accuracy"] == 1.0 and m["trials"]["n"] == 2
    assert m["trials"]["chance"] == 0.5 and m["trials"]["p_value"] == pytest.approx(0.25)


# --------------------------------------------------------------------------- bci evaluate
@pytest.fixture
def ssvep_model(generated: Generated, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bci.models.calibration import calibrate

    out = tmp_path_factory.mktemp("ssvep_model")
    cfg = _cfg("muse-ssvep", strategies=["features"], sessions="none", min_trials_per_class=2)
    calibrate(
        [generated["muse-ssvep"]],
        cfg,
        out,
        progress=False,
        learning=False,
        shortcut=False,
    )
    return out


def test_evaluate_cli_on_a_held_out_file(
    ssvep_model: Path, generated: Generated, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    held_out = generated["muse-ssvep-2"]
    out = tmp_path / "eval"
    res = CliRunner().invoke(
        app, ["evaluate", str(ssvep_model), str(held_out), "-o", str(out), "--offline"]
    )
    assert res.exit_code == 0, res.output
    assert "trial accuracy" in res.output and "offline" in res.output
    ev = json.loads((out / "evaluation.json").read_text())
    t = ev["summary"]["trials"]
    assert ev["mode"] == "virtual time" and ev["event_locked"] is True
    assert t["n"] >= 6 and t["accuracy"] >= 0.8 and t["chance"] >= 0.5
    off = ev["offline"]["trials"]
    assert off["n"] == t["n"] and abs(t["accuracy"] - off["accuracy"]) <= 0.05
    assert ev["per_file"][str(held_out)]["decisions"] == t["n"]
    for png in ("confusion.png", "timeline.png", "per_file.png"):
        assert (out / png).stat().st_size > 2000
    report = (out / "report.md").read_text()
    assert "Pseudo-online vs offline" in report and "ITR" in report
    # deterministic in virtual time
    res = CliRunner().invoke(
        app, ["evaluate", str(ssvep_model), str(held_out), "-o", str(tmp_path / "e2")]
    )
    ev2 = json.loads((tmp_path / "e2" / "evaluation.json").read_text())
    assert ev2["summary"]["trials"] == ev["summary"]["trials"]


def test_evaluate_cli_errors(ssvep_model: Path, generated: Generated, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    held_out = str(generated["muse-ssvep-2"])
    run = CliRunner().invoke
    res = run(app, ["evaluate", str(ssvep_model), held_out, "--speed", "2", "--virtual"])
    assert res.exit_code == 2 and "not both" in res.output
    res = run(app, ["evaluate", str(tmp_path / "nope"), held_out])
    assert res.exit_code == 2 and "no such decoder" in res.output
    wrong = tmp_path / "wrong.yaml"
    data = yaml.safe_load((ROOT / "configs" / "calibrate_muse-p300.yaml").read_text())
    wrong.write_text(yaml.safe_dump(data))
    res = run(
        app, ["evaluate", str(ssvep_model), held_out, "-c", str(wrong), "-o", str(tmp_path / "w")]
    )
    assert res.exit_code == 2 and "differ from the calibration config" in res.output
    assert "Traceback" not in res.output


def test_evaluate_over_an_lsl_replay(
    ssvep_model: Path, generated: Generated, tmp_path: Path
) -> None:
    """--speed replays the file on LSL (unique source ids) and scores the live decisions."""
    from bci._evaluation import evaluate
    from bci.config._calibration import CalibrationConfig
    from bci.config._load import load_config

    cfg = load_config(ssvep_model / "calibration.yaml", CalibrationConfig)
    held_out = generated["muse-ssvep-2"]
    virtual = evaluate(ssvep_model, [held_out], cfg, tmp_path / "v", plots=False)
    live = evaluate(ssvep_model, [held_out], cfg, tmp_path / "l", speed=4.0, plots=False)
    assert live["mode"] == "LSL replay at 4x" and virtual["mode"] == "virtual time"
    tv, tl = virtual["summary"]["trials"], live["summary"]["trials"]
    per = live["per_file"][str(held_out)]
    # every live decision (one per epoch) is matched to its trial and scored
    assert tl["n"] == per["decisions"] >= 3 and tl["n"] <= tv["n"]
    assert tl["accuracy"] >= 0.8 and tv["accuracy"] >= 0.8
    assert per["latency_ms"]["decision"]["p50"] >= 0
