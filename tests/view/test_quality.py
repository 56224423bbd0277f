"""Signal quality: each fault is found, a clean participant passes, ``bci check`` exits 1/0."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from bci._commands.main import app
from bci._quality import STATUSES, QualityCheck, QualitySettings, bad_required, format_table
from bci.config import SimulatedSourceConfig
from bci.devices.simulated import simulate
from bci.devices.simulated._faults import FaultInjector

from .conftest import session_yaml

runner = CliRunner()


@pytest.fixture(scope="module")
def clean() -> tuple[np.ndarray, tuple[str, ...]]:
    rec, _ = simulate(SimulatedSourceConfig(seed=3), duration=10.0)
    sig = rec.signals[0]
    return sig.data.astype(np.float64), sig.spec.ch_names


def test_clean_participant_passes(clean):
    x, names = clean
    report = QualityCheck(250.0, names)(x)
    assert [c.status for c in report] == ["ok"] * len(names)
    assert bad_required(report, None) == []


def test_each_injected_fault_is_named(clean):
    x, names = clean
    faults = FaultInjector(names, 250.0, flat=["Cz"], railed=["Pz"], line_noise=["Oz"])
    report = {c.name: c for c in QualityCheck(250.0, names)(faults(x.copy(), 0))}
    assert report["Cz"].status == "flat"
    assert report["Pz"].status == "railed"
    assert report["Oz"].status == "line_noise" and report["Oz"].line_ratio > 0.8
    others = [c.status for n, c in report.items() if n not in ("Cz", "Pz", "Oz")]
    assert set(others) == {"ok"}
    assert {c.name for c in bad_required(list(report.values()), ["Cz", "Fp1"])} == {"Cz"}


def test_disconnected_high_variance_and_impedance(clean):
    x, names = clean
    x = x.copy()
    x[0] = 0.0  # a dropped lead reading zeros
    x[1] += np.random.default_rng(0).standard_normal(x.shape[1]) * 300.0  # very noisy
    imp = np.full(len(names), 20.0)
    imp[2] = 5000.0  # 5 MOhm: no contact
    report = QualityCheck(250.0, names, QualitySettings())(x, imp)
    assert [c.status for c in report[:3]] == ["disconnected", "high_variance", "disconnected"]
    assert report[2].impedance_kohm == 5000.0
    table = format_table(report, {"Fp1"})
    assert "disconnected" in table and "5000" in table


def test_fault_on_unknown_channel_is_a_config_error():
    from bci import ConfigError

    with pytest.raises(ConfigError, match="faults.railed"):
        FaultInjector(["Cz"], 250.0, railed=["Xx"])


def test_fault_knobs_validate_in_the_session_schema():
    cfg = SimulatedSourceConfig(faults={"flat": ["Cz"], "line_noise": ["Oz"]})
    assert cfg.faults.flat == ["Cz"]
    with pytest.raises(ValueError, match="extra"):
        SimulatedSourceConfig(faults={"dead": ["Cz"]})


@pytest.mark.timeout(120)
def test_bci_check_flags_faults_on_the_live_participant(tmp_path, uid):
    cfg = session_yaml(
        tmp_path / "s.yaml", uid, faults={"flat": ["Cz"], "railed": ["Pz"], "line_noise": ["Oz"]}
    )
    result = runner.invoke(app, ["check", str(cfg), "--duration", "3"])
    assert result.exit_code == 1, result.output
    rows = {
        w[0]: w[1]
        for w in (line.split() for line in result.output.splitlines())
        if len(w) > 2 and w[1] in STATUSES
    }
    assert len(rows) == 16
    assert rows["Cz"] == "flat" and rows["Pz"] == "railed" and rows["Oz"] == "line_noise"
    assert "bad required channel(s): Cz (flat), Pz (railed), Oz (line_noise)" in result.output


@pytest.mark.timeout(120)
def test_bci_check_passes_a_clean_participant(tmp_path, uid):
    cfg = session_yaml(tmp_path / "s.yaml", uid)
    result = runner.invoke(app, ["check", str(cfg), "--duration", "3"])
    assert result.exit_code == 0, result.output
    assert "all required channels are good" in result.output


@pytest.mark.timeout(120)
def test_bci_check_only_fails_on_required_channels(tmp_path, uid):
    cfg = session_yaml(tmp_path / "s.yaml", uid, faults={"flat": ["Fp1"]})
    result = runner.invoke(app, ["check", str(cfg), "--duration", "2", "--require", "O1,Oz,O2"])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["check", str(cfg), "--duration", "2", "--require", "Nope"])
    assert bad.exit_code == 2 and "--require" in bad.output


@pytest.mark.timeout(120)
def test_session_refuses_to_start_on_a_bad_required_channel(tmp_path, uid):
    from bci import DeviceError, run_session
    from bci.config import load_config

    cfg = session_yaml(
        tmp_path / "s.yaml", uid, faults={"railed": ["Oz"]}, quality={"on_bad": "refuse"}
    )
    with pytest.raises(DeviceError, match=r"Oz \(railed\).*quality.on_bad"):
        run_session(load_config(cfg), duration=1.0, handle_signals=False)
