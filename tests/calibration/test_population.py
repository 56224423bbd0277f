"""Cross-user calibration: population models, leave-one-subject-out, few-trial calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from bci import ConfigError
from bci.config._calibration import CalibrationConfig
from bci.config._load import parse_config
from recordings import muse_ssvep

ROOT = Path(__file__).resolve().parents[2]


def _cfg(**update) -> CalibrationConfig:
    data = yaml.safe_load((ROOT / "configs" / "calibrate_muse-ssvep.yaml").read_text())
    data.update(strategies=["features"], baselines=["trca"], **update)
    return parse_config(data, CalibrationConfig)


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Three simulated Muse SSVEP users, one folder each (subjectN/session1/*.csv)."""
    from bci.devices import write_recording

    root = tmp_path_factory.mktemp("population")
    out = {}
    for k, seed in enumerate((21, 22, 23), start=1):
        path = root / f"subject{k}" / "session1" / f"data_sim_{seed}.csv"
        out[f"subject{k}"] = [write_recording(muse_ssvep(seed, duration=100.0), path)]
    return out


def test_subject_of_layouts() -> None:
    from bci.models.calibration._population import group_by_subject, subject_of

    assert subject_of("data/muse-p300/subject2/session1/x.csv") == "subject2"
    assert subject_of("data/myo/right_hand/45612-3/4.txt") == "45612"
    assert subject_of("data/n170/subject10/session3/r.csv.csv") == "subject10"
    groups = group_by_subject(["a/12345-1/1.txt", "a/12345-2/1.txt", "a/54321-1/1.txt"])
    assert {k: len(v) for k, v in groups.items()} == {"12345": 2, "54321": 1}


def test_first_trials_in_recording_order() -> None:
    from bci.models.calibration._population import first_trials

    # 12 one-window trials, oddball: target (1) every 4th trial
    y = np.array([0, 0, 0, 1] * 3)
    groups = np.arange(12)
    idx = first_trials(y, groups, 2, positive=1)  # up to the 2nd target, non-targets alongside
    assert idx.tolist() == list(range(8))
    # balanced classes, 2 windows per trial: the first 2 trials of each class
    y2 = np.repeat([0, 1, 0, 1, 0, 1], 2)
    g2 = np.repeat(np.arange(6), 2)
    idx2 = first_trials(y2, g2, 2, positive=None)
    assert sorted(set(g2[idx2].tolist())) == [0, 1, 2, 3]
    assert len(first_trials(y2, g2, None, None)) == len(y2)


def test_pooled_estimator_uses_population(users: dict[str, list[Path]]) -> None:
    from bci.models.calibration._calibrate import _factory
    from bci.models.calibration._population import PooledEstimator, load_population, load_subject

    cfg = _cfg()
    me = load_subject(users["subject1"], cfg, "subject1")
    pop = load_population(users["subject2"] + users["subject3"], cfg, me, users["subject1"])
    assert pop.names == ["subject2", "subject3"] and pop.seconds > 0
    est = PooledEstimator(_factory("features", cfg, me), pop).fit(me.X[:4], me.y[:4])
    assert est.n_population_windows_ == len(pop.trials.y)
    # trained on the population: it decodes the user's remaining trials, 4 own trials or not
    acc = (est.predict_proba(me.X[4:]).argmax(1) == me.y[4:]).mean()
    assert acc >= 0.8
    capped = PooledEstimator(_factory("features", cfg, me), pop, max_windows=10).fit(me.X, me.y)
    assert capped.n_population_windows_ <= 12


def test_population_errors(users: dict[str, list[Path]], tmp_path: Path) -> None:
    from bci.models.calibration import calibrate
    from bci.models.calibration._population import load_population

    cfg = _cfg()
    with pytest.raises(ConfigError, match="also one of the user's recordings"):
        load_population(users["subject1"], cfg, None, users["subject1"])
    with pytest.raises(ConfigError, match="no recording"):
        load_population([], cfg)
    narrow = _cfg(channels=["TP9", "AF7"], population=[str(p) for p in users["subject2"]])
    with pytest.raises(Exception, match="montage"):
        from bci.models.calibration._population import conform, load_subject

        conform(load_subject(users["subject2"], narrow), load_subject(users["subject1"], cfg))
    bad = _cfg(population=[str(tmp_path / "missing.csv")])
    with pytest.raises(Exception, match="missing.csv"):
        calibrate(users["subject1"], bad, tmp_path / "out", progress=False, learning=False)


def test_calibrate_with_population_exports_pooled(
    users: dict[str, list[Path]], tmp_path: Path
) -> None:
    from bci.models.calibration import calibrate

    pop = [str(p) for p in users["subject2"] + users["subject3"]]
    cfg = _cfg(population=pop, ship="auto")
    res = calibrate(
        users["subject1"], cfg, tmp_path / "out", progress=False, learning=False, shortcut=False
    )
    m = res.metrics
    assert {"features", "pop_features"} <= set(m["strategies"])
    assert "pop_trca" in m["baselines"]
    assert m["population"]["subjects"] == ["subject2", "subject3"]
    assert m["population"]["prepare_seconds"] >= 0  # rounded to 0.1 s: 0.0 on a fast machine
    assert (tmp_path / "out" / "model.onnx").is_file()
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["population"]["n_windows"] > 0


def test_leave_one_subject_out_curve_and_selection(
    users: dict[str, list[Path]], tmp_path: Path
) -> None:
    from bci.models.calibration._population import run_loso

    files = [str(p) for v in users.values() for p in v]
    res = run_loso(files, _cfg(), tmp_path, n_per_class=(2, 4, None), progress=False)
    assert set(res["subjects"]) == {"subject1", "subject2", "subject3"}
    curve = res["summary"]["curve"]
    assert set(curve) == {"features", "trca", "pop_features", "pop_trca"}
    assert set(curve["features"]) == {"2", "4", "all"}
    # every subject is tested once per size, on the same test windows at every size
    tests = {(r["subject"], r["candidate"]): set() for r in res["rows"]}
    for r in res["rows"]:
        tests[(r["subject"], r["candidate"])].add(r["test_windows"])
        assert max(r["calibration_trials"].values()) <= (r["n_per_class"] or 99)
    assert all(len(v) == 1 for v in tests.values())
    # the simulated users share their SSVEP response: pooling helps with 2 trials per class
    assert curve["pop_features"]["2"] >= curve["features"]["2"]
    assert (tmp_path / "loso.md").read_text().count("subject") >= 3
    assert json.loads((tmp_path / "loso.json").read_text())["summary"] == res["summary"]


def test_cli_loso_and_population(users: dict[str, list[Path]], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bci._commands.main import app

    cfg = tmp_path / "p.yaml"
    data = yaml.safe_load((ROOT / "configs" / "calibrate_muse-ssvep.yaml").read_text())
    data.update(strategies=["features"], baselines=["trca"])
    cfg.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    folders = [str(p[0].parents[1]) for p in users.values()]
    r = runner.invoke(app, ["calibrate", "-c", str(cfg), "-o", str(tmp_path / "l"), "--loso",
                            "--data", *folders[:1], *folders[1:]])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "leave-one-subject-out over 3 subjects" in r.output
    r = runner.invoke(app, ["calibrate", "-c", str(cfg), "-o", str(tmp_path / "p"), "--fast",
                            "--data", str(users["subject1"][0]),
                            "--population", folders[1], "--population", folders[2]])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "population" in json.loads((tmp_path / "p" / "metrics.json").read_text())
    r = runner.invoke(app, ["calibrate", "-c", str(cfg), "-o", str(tmp_path / "q"),
                            "--data", str(users["subject1"][0]),
                            "--population", str(tmp_path / "nope")])  # fmt: skip
    assert r.exit_code != 0 and "--population" in r.output and "Traceback" not in r.output
