"""Calibration on real recordings: epoching, baselines, export, report, CLI and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bci import ConfigError, RecordingError
from bci.config._calibration import CalibrationConfig
from bci.config._load import load_config, parse_config
from recordings import Generated

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs").glob("calibrate_*.yaml"))


def _cfg(name: str, **update) -> CalibrationConfig:
    data = yaml.safe_load((ROOT / "configs" / f"calibrate_{name}.yaml").read_text())
    for key, value in update.items():
        if key in ("epochs", "evaluation", "training") and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, CalibrationConfig)


@pytest.fixture
def ssvep_files(generated: Generated) -> list[Path]:
    """Two generated Muse-layout SSVEP runs (30/20 Hz, codes 1/2), 24 trials each."""
    return [generated["muse-ssvep"], generated["muse-ssvep-2"]]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_validate(path: Path) -> None:
    cfg = load_config(path, CalibrationConfig)
    assert cfg.classes and set(cfg.mapping.values()) <= set(cfg.classes)


def test_config_rejects_bad_values() -> None:
    base = yaml.safe_load((ROOT / "configs" / "calibrate_muse-ssvep.yaml").read_text())
    with pytest.raises(ConfigError, match="bogus"):
        parse_config({**base, "bogus": 1}, CalibrationConfig)
    with pytest.raises(ConfigError, match="not in classes"):
        parse_config({**base, "mapping": {"1": "nope"}}, CalibrationConfig)
    with pytest.raises(ConfigError, match="frequencies"):
        parse_config({**base, "frequencies": None}, CalibrationConfig)
    with pytest.raises(ConfigError, match="unknown strategies"):
        parse_config({**base, "strategies": ["magic"]}, CalibrationConfig)


def test_ssvep_epochs_and_fbcca(ssvep_files: list[Path]) -> None:
    from bci.models.calibration import load_trials, make_baseline, make_folds
    from bci.models.calibration._evaluate import cross_validate

    cfg = _cfg("muse-ssvep")
    trials = load_trials(ssvep_files, cfg)
    assert trials.ch_names == ["TP9", "AF7", "AF8", "TP10", "Right AUX"]
    assert trials.positions[-1] == "POz"
    assert trials.sfreq == pytest.approx(256.0, abs=0.5)
    assert trials.n_times == int(round(2.5 * trials.sfreq))
    assert sum(trials.counts().values()) >= 35
    _, folds = make_folds(trials, "kfold", 5, 0)
    fb = cross_validate(
        "fbcca",
        "baseline",
        lambda: make_baseline("fbcca", sfreq=trials.sfreq, freqs=[30.0, 20.0], n_harmonics=2),
        trials.X.astype(np.float64),
        trials,
        folds,
        1,
    )
    assert fb.metrics["accuracy"] >= 0.85


def test_calibrate_ssvep_end_to_end(ssvep_files: list[Path], tmp_path: Path) -> None:
    import onnx

    from bci._decoder import DecoderONNX
    from bci.models.calibration import calibrate, load_trials

    cfg = _cfg("muse-ssvep", strategies=["features"], user="alice", sessions="none")
    res = calibrate(ssvep_files, cfg, tmp_path, progress=False)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["best"]["name"] == "features"
    assert (
        m["best"]["accuracy"] >= 0.8 and m["best"]["auc"] >= 0.9
    )  # ~40 trials; 0.99 on all 6 files
    assert {"fbcca", "trca"} <= set(m["baselines"])
    assert m["learning_curve"] and m["shortcut"]
    assert m["strategies"]["features"]["itr_bits_per_min"] > 0
    for png in ("confusion.png", "learning_curve.png", "per_class.png", "comparison.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert "fbcca" in report and "features (shipped)" in report
    meta = {
        p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "model.onnx")).metadata_props
    }
    from bci.models._export import REQUIRED_KEYS

    for key in (*REQUIRED_KEYS, "user", "paradigm", "montage"):
        assert f"bci.{key}" in meta, key
    assert meta["bci.user"] == "alice" and meta["bci.paradigm"] == "ssvep"
    assert meta["bci.montage"]["Right AUX"] == "POz"
    assert meta["bci.preprocess"] == {"bandpass": [5.0, 70.0], "notch": None}
    # the exported decoder reproduces the cross-validated model's probabilities
    trials = load_trials(ssvep_files, cfg)
    from bci.models.calibration import FeatureStrategy

    est = FeatureStrategy("ssvep", trials.sfreq, 2, freqs=[30.0, 20.0], n_harmonics=2).fit(
        trials.X, trials.y
    )
    dec = DecoderONNX(tmp_path / "model.onnx", provider="cpu")
    np.testing.assert_allclose(dec(trials.X[3]), est.predict_proba(trials.X[3:4])[0], atol=1e-4)
    assert res.metrics["inference_latency_ms"]["p50"] > 0


def test_start_end_markers_openbci(generated: Generated) -> None:
    from bci.models.calibration import load_trials

    cfg = _cfg("xdf-openbci-emg-gestures", min_trials_per_class=2)
    trials = load_trials([generated["xdf-emg"]], cfg)
    counts = trials.counts()
    assert set(counts) == {"snap", "squeeze", "tap", "rest"} and min(counts.values()) >= 2
    assert trials.n_times == 250 and trials.X.shape[1] == 8
    # windows of one trial share a group and one label
    for g in np.unique(trials.groups):
        assert len(np.unique(trials.y[trials.groups == g])) == 1


def test_start_end_parsing_both_marker_styles() -> None:
    from bci import Marker, Recording
    from bci.models.calibration._epochs import _start_end

    cfg = _cfg("xdf-openbci-emg-gestures")
    new = Recording(
        "x", [], [Marker(1.0, "0s"), Marker(2.5, "0e"), Marker(3.0, "3s"), Marker(4.0, "3e")]
    )
    old = Recording(
        "x", [], [Marker(1.0, "1"), Marker(2.0, "1"), Marker(3.0, "2"), Marker(4.5, "2")]
    )
    assert _start_end(new, cfg) == [(1.0, 2.5, "snap"), (3.0, 4.0, "rest")]
    assert _start_end(old, cfg) == [(1.0, 2.0, "squeeze"), (3.0, 4.5, "tap")]


def test_per_sample_labels_myo(generated: Generated) -> None:
    from bci.models.calibration import load_trials

    cfg = _cfg(
        "myo-wrist-gestures",
        classes=["rest", "fist"],
        mapping={"0": "rest", "7": "fist"},
        min_trials_per_class=2,
    )
    trials = load_trials([generated["myo"]], cfg)
    assert set(trials.counts()) == {"rest", "fist"}
    assert trials.sfreq == 200.0 and trials.n_times == 200
    assert (trials.sessions == "12345-1").all()


def test_clear_errors(ssvep_files: list[Path], generated: Generated) -> None:
    from bci.models.calibration import CalibrationDataError, load_trials

    assert issubclass(CalibrationDataError, RecordingError)
    with pytest.raises(CalibrationDataError, match="no marker matches mapping.*markers found"):
        load_trials(ssvep_files[:1], _cfg("muse-ssvep", mapping={"9": "ssvep_30"}))
    with pytest.raises(CalibrationDataError, match="too few trials per class"):
        load_trials(ssvep_files[:1], _cfg("muse-ssvep", min_trials_per_class=500))
    with pytest.raises(CalibrationDataError, match="'Oz' is not in the recording"):
        load_trials(ssvep_files[:1], _cfg("muse-ssvep", channels=["Oz", "TP9"]))
    with pytest.raises(CalibrationDataError, match="channel mismatch"):
        load_trials(
            # its "1"/"2" status codes match the mapping, but its 8 EEG channels do not
            [ssvep_files[0], generated["bdf"]],
            _cfg("muse-ssvep", channels=None, min_trials_per_class=2),
        )


def test_cli_calibrate(ssvep_files: list[Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    cfg = tmp_path / "calibrate_test.yaml"
    data = yaml.safe_load((ROOT / "configs" / "calibrate_muse-ssvep.yaml").read_text())
    data["strategies"] = ["features"]
    data["sessions"] = "none"
    cfg.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    args = [
        "calibrate",
        "--config",
        str(cfg),
        "-o",
        str(out),
        "--fast",
        "--data",
        *map(str, ssvep_files),
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "features accuracy" in r.output
    assert json.loads((out / "metrics.json").read_text())["best"]["name"] == "features"
    r = CliRunner().invoke(app, ["calibrate", "-p", "ssvep", "-o", str(out), "--data", str(cfg)])
    assert r.exit_code == 1 and "error:" in r.output
    r = CliRunner().invoke(app, ["calibrate", "-p", "nope", "-o", str(out)])
    assert r.exit_code == 2 and "unknown paradigm" in r.output


def test_scratch_strategy_exports(ssvep_files: list[Path], tmp_path: Path) -> None:
    """The foundation architecture trained from scratch goes through bci.models.fit and export."""
    from bci._decoder import DecoderONNX
    from bci.models.calibration import calibrate

    cfg = _cfg(
        "muse-ssvep",
        strategies=["scratch"],
        ship="scratch",
        baselines=[],
        training={"epochs": 2, "patience": 1},
        evaluation={"folds": 2},
    )
    res = calibrate(ssvep_files[:1], cfg, tmp_path, progress=False, learning=False, shortcut=False)
    assert res.metrics["best"]["name"] == "scratch"
    dec = DecoderONNX(tmp_path / "model.onnx", provider="cpu")
    assert dec.metadata["sfreq"] == 250.0 and dec.metadata["strategy"] == "scratch"
    out = dec(np.zeros((5, dec.metadata["n_times"]), np.float32))
    assert out.shape == (2,) and abs(float(out.sum()) - 1) < 1e-4


def test_calibration_runs_blas_on_one_thread(
    ssvep_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small matrices: BLAS threads cost more than they gain (9x slower probe on 2 cores)."""
    import os

    from threadpoolctl import threadpool_info

    import bci.models.calibration._calibrate as cal

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = blas_threads()
    if (os.cpu_count() or 1) < 2 or max(before, default=1) < 2:
        pytest.skip("BLAS already runs on one thread here: nothing to limit")
    seen: list[int] = []
    make_folds = cal.make_folds

    def spy(*args, **kwargs):
        seen.extend(blas_threads())
        return make_folds(*args, **kwargs)

    monkeypatch.setattr(cal, "make_folds", spy)
    cfg = _cfg("muse-ssvep", strategies=["features"], baselines=[], evaluation={"folds": 2})
    cal.calibrate(ssvep_files[:1], cfg, tmp_path, progress=False, learning=False, shortcut=False)
    assert seen and set(seen) == {1}, seen
    assert blas_threads() == before  # restored afterwards


def test_own_pretrained_encoder(ssvep_files: list[Path], tmp_path: Path) -> None:
    """training.encoder / --encoder: the foundation strategies start from that encoder.pt; a
    path that does not exist is a clear error, not a silent skip."""
    import torch
    from typer.testing import CliRunner

    from bci import DecoderError, models
    from bci._commands.main import app
    from bci.models._weights import save_encoder
    from bci.models.calibration import calibrate, load_trials
    from bci.models.calibration._strategies import FoundationStrategy

    torch.manual_seed(5)
    mine = save_encoder(models.FoundationEncoder(models.EncoderConfig()), tmp_path / "mine.pt")
    cfg = _cfg("muse-ssvep", training={"encoder": str(mine)})
    trials = load_trials(ssvep_files[:1], cfg)
    fit = FoundationStrategy(
        "linear_probe", trials.positions, trials.sfreq, list(cfg.classes), encoder=str(mine)
    ).fit(trials.X[:20], trials.y[:20])
    own = models.load_encoder(mine).state_dict()
    used = fit.model_.encoder.state_dict()
    shipped = models.load_encoder().state_dict()
    key = next(k for k in own if own[k].ndim == 2)
    assert torch.equal(used[key], own[key]) and not torch.equal(used[key], shipped[key])

    bad = _cfg(
        "muse-ssvep", strategies=["linear_probe"], training={"encoder": str(tmp_path / "no.pt")}
    )
    with pytest.raises(DecoderError, match="no.pt"):
        calibrate(
            ssvep_files[:1], bad, tmp_path / "o", progress=False, learning=False, shortcut=False
        )
    r = CliRunner().invoke(
        app,
        [
            "calibrate",
            "-p",
            "ssvep",
            "-o",
            str(tmp_path / "o"),
            "--encoder",
            "nope.pt",
            "--data",
            str(ssvep_files[0]),
        ],
    )
    assert r.exit_code == 2 and "--encoder nope.pt" in r.output


def test_cli_live_simulated_participant(tmp_path: Path) -> None:
    """--live runs the headless paradigm against the simulated participant, records XDF, trains."""
    from typer.testing import CliRunner

    from bci._commands.main import app

    data = yaml.safe_load((ROOT / "configs" / "calibrate_sim-ssvep.yaml").read_text())
    data["strategies"] = ["features"]
    cfg = tmp_path / "calibrate_sim.yaml"
    cfg.write_text(yaml.safe_dump(data))
    out = tmp_path / "live"
    args = [
        "calibrate",
        "--live",
        "--live-seconds",
        "60",
        "--config",
        str(cfg),
        "-o",
        str(out),
        "--fast",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (out / "recording.xdf").stat().st_size > 10_000
    m = json.loads((out / "metrics.json").read_text())
    assert sum(m["trials_per_class"].values()) >= 16
    assert m["best"]["accuracy"] > 0.4  # 4 classes: chance is 0.25
    # the SSVEP paradigm on screen flickers: refused without the screened-participant opt-in
    r = CliRunner().invoke(app, ["calibrate", "-p", "ssvep", "-o", str(out), "--live"])
    assert r.exit_code != 0 and "--screened" in r.output, r.output
