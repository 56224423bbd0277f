"""Honest calibration reports and bad data: skipped files, clear errors, CSV layouts,
baselines that win (and ship), chance level and p-values, a family-aware shortcut check."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from recordings import Generated

from bci.config._calibration import CalibrationConfig
from bci.config._load import parse_config

ROOT = Path(__file__).resolve().parents[2]
MUSE_COLS = ["TP9", "AF7", "AF8", "TP10", "Right AUX"]


def _cfg(name: str, **update) -> CalibrationConfig:
    data = yaml.safe_load((ROOT / "configs" / f"calibrate_{name}.yaml").read_text())
    for key, value in update.items():
        if key in ("epochs", "evaluation", "training") and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data, CalibrationConfig)


def _read_muse(path: Path) -> tuple[list[str], np.ndarray]:
    header = path.read_text().splitlines()[0].split(",")
    return header, np.loadtxt(path, delimiter=",", skiprows=1)


def _write_muse(path: Path, header: list[str], data: np.ndarray) -> Path:
    fmt = ["%.3f"] + ["%.3f"] * (len(header) - 2) + ["%d"]
    np.savetxt(path, data, delimiter=",", header=",".join(header), comments="", fmt=fmt)
    return path


@pytest.fixture
def muse_file(generated: Generated) -> Path:
    """A generated Muse-layout run (SSVEP trials, codes 1/2)."""
    return generated["muse-ssvep"]


@pytest.fixture
def railed_file(muse_file: Path, tmp_path: Path) -> Path:
    """The same run with AF7 and AF8 stuck at the Muse's -1000 uV rail (an unplugged headset)."""
    header, data = _read_muse(muse_file)
    data[:, header.index("AF7")] = -1000.0
    data[:, header.index("AF8")] = -1000.0
    return _write_muse(tmp_path / "railed.csv", header, data)


def _reject_cfg(**update) -> CalibrationConfig:
    """The Muse SSVEP config with a peak-to-peak rejection, as the Muse ERP configs have."""
    return _cfg("muse-ssvep", epochs={"reject_uv": 150.0}, **update)


# --------------------------------------------------------------------------- bad data
def test_railed_file_is_skipped_with_a_warning_naming_it(
    muse_file: Path, railed_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bci.models.calibration import load_trials

    cfg = _reject_cfg()
    with caplog.at_level(logging.WARNING):
        trials = load_trials([muse_file, railed_file], cfg)
    assert list(trials.skipped) == [str(railed_file)]
    reason = trials.skipped[str(railed_file)]
    assert "reject_uv" in reason and "AF7 flat" in reason and "'channels'" in reason
    assert any("railed.csv" in r.getMessage() for r in caplog.records)
    assert trials.files == [str(muse_file)] and sum(trials.counts().values()) >= 20


def test_nothing_left_error_says_what_to_change(railed_file: Path) -> None:
    from bci.models.calibration import CalibrationDataError, load_trials

    with pytest.raises(CalibrationDataError, match=r"railed\.csv: all \d+ trials rejected") as e:
        load_trials([railed_file], _reject_cfg())
    msg = str(e.value)
    assert "Raise epochs.reject_uv" in msg and "leave the bad channel out of 'channels'" in msg
    # leaving the railed channels out makes the same file usable
    trials = load_trials([railed_file], _reject_cfg(channels=["TP9", "TP10", "Right AUX"]))
    assert trials.ch_names == ["TP9", "TP10", "Right AUX"] and not trials.skipped


def test_unlabelled_file_is_skipped_not_fatal(muse_file: Path, tmp_path: Path) -> None:
    from bci.models.calibration import load_trials

    header, data = _read_muse(muse_file)
    data[:, -1] = 0
    data[-10, -1] = 2  # one marker 10 samples before the end: its epoch runs past the file
    unlabelled = _write_muse(tmp_path / "unlabelled.csv", header, data)
    trials = load_trials([muse_file, unlabelled], _cfg("muse-ssvep"))
    assert "no complete trial" in trials.skipped[str(unlabelled)]
    assert "1 labelled trial" in trials.skipped[str(unlabelled)]


def test_calibrate_cli_warns_about_the_skipped_file(
    muse_file: Path, railed_file: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    cfg = tmp_path / "ssvep.yaml"
    data = yaml.safe_load((ROOT / "configs" / "calibrate_muse-ssvep.yaml").read_text())
    data["strategies"] = ["features"]
    data["sessions"] = "none"
    data["epochs"]["reject_uv"] = 150.0
    cfg.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    args = ["calibrate", "-c", str(cfg), "-o", str(out), "--fast", str(muse_file), str(railed_file)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "warning: skipped" in res.output and "railed.csv" in res.output
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["skipped_files"]) == [str(railed_file)]
    assert "railed.csv" in (out / "report.md").read_text()
    # only the railed file: exit 1 (a data error) with the advice, no traceback
    res = CliRunner().invoke(app, [*args[:-2], str(railed_file)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "reject_uv" in res.output


def _custom_csv(src: Path, dst: Path) -> Path:
    """A Muse run rewritten in a layout the reader cannot guess (';', ms clock, 'trigger')."""
    header, data = _read_muse(src)
    t_ms = (data[:, 0] - data[0, 0]) * 1000.0
    cols = ["time_ms", *header[1:-1], "trigger"]
    out = np.column_stack([t_ms, data[:, 1:]])
    np.savetxt(dst, out, delimiter=";", header=";".join(cols), comments="", fmt="%.3f")
    return dst


def test_unknown_csv_layout_from_the_cli(generated: Generated, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    srcs = [generated["muse-ssvep"], generated["muse-ssvep-2"]]
    csvs = [str(_custom_csv(f, tmp_path / f"custom{k}.csv")) for k, f in enumerate(srcs)]
    mapping = yaml.safe_load((ROOT / "configs" / "replay_columns.yaml").read_text())
    mapping.update(delimiter=";", channels=MUSE_COLS)
    mapping_file = tmp_path / "layout.yaml"
    mapping_file.write_text(yaml.safe_dump(mapping))
    cfg = yaml.safe_load((ROOT / "configs" / "calibrate_muse-ssvep.yaml").read_text())
    cfg.update(strategies=["features"], sessions="none")
    cfg_file = tmp_path / "ssvep.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    base = ["calibrate", "-c", str(cfg_file), "--fast", *csvs]
    res = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "a")])
    assert res.exit_code == 1, res.output
    assert "unknown text layout" in res.output and "--mapping FILE" in res.output
    res = CliRunner().invoke(
        app, [*base, "-o", str(tmp_path / "b"), "--mapping", str(mapping_file)]
    )
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert m["best"]["accuracy"] > 0.8 and m["ch_names"] == MUSE_COLS
    # the same layout as a 'layout:' key of the calibration config
    cfg["layout"] = str(mapping_file)
    cfg_file.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    # bci evaluate reads the files with the layout the decoder was calibrated with
    ev = tmp_path / "ev"
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "c"), csvs[1], "-o", str(ev)])
    assert res.exit_code == 0, res.output
    assert json.loads((ev / "evaluation.json").read_text())["files"]
    res = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "d"), "--mapping", "nope.yaml"])
    assert res.exit_code == 2 and "--mapping nope.yaml: no such file" in res.output


# --------------------------------------------------------------------------- baselines
def _scores(pairs: list[tuple[str, str, float]]):
    from bci.models.calibration._evaluate import Scores

    out = []
    for name, kind, auc in pairs:
        s = Scores(name, kind, np.zeros((1, 2)), np.zeros(1), [], 0.0)
        s.metrics = {"accuracy": auc, "auc": auc}
        out.append(s)
    return out


def test_ship_auto_considers_exportable_baselines_and_says_when_a_baseline_wins() -> None:
    from bci.models.calibration._calibrate import _compare_with_baselines, pick_shipped

    scores = _scores(
        [
            ("xdawn_ts", "baseline", 0.80),
            ("xdawn_lda", "baseline", 0.75),
            ("features", "strategy", 0.70),
        ]
    )
    best = pick_shipped(scores, "auto", True, {})
    assert best.name == "xdawn_lda"  # exportable and better than every strategy
    c = _compare_with_baselines(best, scores, True, "auto")
    assert "xdawn_lda is shipped" in c["note"]
    # a report-only baseline that wins is named in a warning
    assert c["baseline_wins"] and c["best_baseline"] == "xdawn_ts"
    best = pick_shipped(scores, "features", True, {})
    c = _compare_with_baselines(best, scores, True, "features")
    assert c["baseline_wins"] and "xdawn_ts" in c["warning"] and "report-only" in c["warning"]
    tie = _scores([("td_lda", "baseline", 0.8), ("features", "strategy", 0.8)])
    best = pick_shipped(tie, "auto", True, {})
    assert best.name == "features"  # a tie is not a baseline win
    assert not _compare_with_baselines(best, tie, True, "auto")["baseline_wins"]
    scores = _scores([("td_lda", "baseline", 0.6), ("features", "strategy", 0.9)])
    c = _compare_with_baselines(pick_shipped(scores, "auto", True, {}), scores, True, "auto")
    assert not c["baseline_wins"] and "warning" not in c and c["difference"] == pytest.approx(0.3)


@pytest.mark.parametrize(("name", "files"), [("td_lda", "myo"), ("xdawn_lda", "n170")])
def test_shipped_baseline_onnx_matches_the_pipeline(
    name: str, files: str, generated: Generated, muse_file: Path, tmp_path: Path
) -> None:
    from bci._decoder import DecoderONNX
    from bci.models.calibration import calibrate, load_trials
    from bci.models.calibration._baseline_export import ExportableBaseline
    from bci.models.calibration._baselines import make_baseline

    if files == "myo":
        paths = [generated["myo"]]
        cfg = _cfg(
            "myo-wrist-gestures",
            classes=["rest", "fist"],
            mapping={"0": "rest", "7": "fist"},
            sessions="none",
            min_trials_per_class=2,
            strategies=["features"],
            ship=name,
        )
    else:
        paths = [muse_file]  # an ERP pipeline on SSVEP trials: the export is what is checked
        cfg = _cfg("muse-n170", strategies=["features"], ship=name, sessions="none")
    res = calibrate(paths, cfg, tmp_path, progress=False, learning=False, shortcut=False)
    assert res.metrics["best"]["name"] == name and res.metrics["best"]["kind"] == "baseline"
    trials = load_trials(paths, cfg)
    n_classes = len(cfg.classes)
    est = ExportableBaseline(
        name, make_baseline(name, sfreq=trials.sfreq, n_classes=n_classes), n_classes
    )
    est.fit(trials.X, trials.y)
    dec = DecoderONNX(tmp_path / "model.onnx", provider="cpu")
    for i in (0, len(trials.y) // 2, len(trials.y) - 1):
        np.testing.assert_allclose(
            dec(trials.X[i]), est.predict_proba(trials.X[i : i + 1])[0], atol=2e-3
        )
    assert dec.metadata["strategy"] == name
    assert (tmp_path / "calibration.yaml").exists()


# --------------------------------------------------------------------------- significance
def test_chance_level_and_p_values() -> None:
    from bci.models.calibration._evaluate import significance

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    groups = np.arange(40)
    perfect = np.eye(2)[y]
    s = significance(perfect, y, groups, 2, 1)
    assert s["chance"] == 0.5 and s["n_trials"] == 40
    assert s["p_value"] < 1e-10 and s["auc_p_value"] < 1e-8
    noise = rng.dirichlet([1, 1], size=40)
    s = significance(noise, y, groups, 2, 1)
    assert s["p_value"] > 0.01
    # several windows per trial count once: 4 trials of 10 windows is n = 4
    s = significance(
        np.eye(2)[np.repeat([0, 1, 0, 1], 10)],
        np.repeat([0, 1, 0, 1], 10),
        np.repeat(np.arange(4), 10),
        2,
        1,
    )
    assert s["n_trials"] == 4 and s["p_value"] == pytest.approx(0.5**4)
    # imbalanced classes: chance is the majority rate, not 1/2
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    s = significance(np.eye(2)[np.zeros(40, int)], y, np.arange(40), 2, 1)
    assert s["chance"] == 0.75 and s["p_value"] > 0.3


# --------------------------------------------------------------------------- shortcuts
def test_shortcut_roles_follow_the_family() -> None:
    from bci.models.calibration._evaluate import shortcut_role

    pos = {"AF7": "AF7", "Right AUX": "POz", "TP9": "TP9", "emg1": "emg1"}
    assert shortcut_role("emg_power_>30Hz", "emg", pos)[0] == "signal"
    assert shortcut_role("single_channel_emg1", "emg", pos)[0] == "signal"
    assert shortcut_role("emg_power_>30Hz", "erp", pos)[0] == "artifact"
    assert shortcut_role("emg_power_>30Hz", "ssvep", pos, [8.0, 10.0], 2)[0] == "artifact"
    assert shortcut_role("emg_power_>30Hz", "ssvep", pos, [30.0, 20.0], 2)[0] == "signal"
    assert shortcut_role("single_channel_Right AUX", "ssvep", pos)[0] == "signal"
    assert shortcut_role("single_channel_AF7", "ssvep", pos)[0] == "artifact"
    assert shortcut_role("eog_frontal_0.5-4Hz", "mi", pos)[0] == "artifact"
    assert shortcut_role("single_channel_TP9", "erp", pos)[0] == "signal"


def _blink_recording(tmp_path: Path, channel: str, seed: int = 0) -> Path:
    """Muse-layout noise where only ``channel`` carries a slow bump after class-2 markers."""
    rng = np.random.default_rng(seed)
    sf, n_trials = 256.0, 120
    n = int(n_trials * 1.0 * sf) + 512
    data = rng.normal(0, 5.0, (n, 5))
    markers = np.zeros(n)
    t = np.arange(int(0.5 * sf)) / sf
    bump = 40.0 * np.sin(np.pi * t / 0.5)  # a 0.5-s eye-blink-like wave
    for k in range(n_trials):
        i = 256 + int(k * sf)
        cls = 1 + (k % 2)
        markers[i] = cls
        if cls == 2:
            data[i : i + len(t), MUSE_COLS.index(channel)] += bump
    ts = 1000.0 + np.arange(n) / sf
    return _write_muse(
        tmp_path / f"blink_{channel}.csv",
        ["timestamps", *MUSE_COLS, "Marker0"],
        np.column_stack([ts, data, markers]),
    )


@pytest.mark.parametrize(("channel", "warns"), [("AF7", True), ("TP9", False)])
def test_shortcut_warning_fires_when_its_rule_says(
    channel: str, warns: bool, tmp_path: Path
) -> None:
    from bci.models.calibration import calibrate

    path = _blink_recording(tmp_path, channel)
    cfg = _cfg("muse-n170", strategies=["features"], sessions="none", epochs={"reject_uv": None})
    res = calibrate([path], cfg, tmp_path / "out", progress=False, learning=False)
    m = res.metrics
    assert m["best"]["auc"] > 0.9
    row = m["shortcut"][f"single_channel_{channel}"]
    assert row["auc"] > 0.9 and row["warns"] is warns
    assert row["role"] == ("artifact" if warns else "signal")
    fired = [w for w in m["warnings"] if f"single_channel_{channel}" in w]
    assert bool(fired) is warns
    # every warning follows the rule the report states: an artifact row within the margin
    for name, r in m["shortcut"].items():
        within = r["auc"] >= m["best"]["auc"] - m["shortcut_margin"]
        assert r["warns"] == (r["role"] == "artifact" and within), name
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| role | rule | warns |" in report and "chance level" in report
