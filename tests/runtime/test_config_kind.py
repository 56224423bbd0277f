"""A config's kind comes from its content (or an explicit ``kind:``), never from its file name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bci import ConfigError
from bci._commands.main import app
from bci.config import SessionConfig, load_config
from bci.config._calibration import CalibrationConfig
from bci.config._load import detect_kind

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

SESSION = {"name": "demo", "window": {"length": 1.0, "hop": 0.2}, "decoder": {"warmup": 1}}
CALIB = yaml.safe_load((ROOT / "configs" / "calibrate_muse-p300.yaml").read_text())
MAPPING = yaml.safe_load((ROOT / "configs" / "replay_myo.yaml").read_text())


def _write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("replay_eval.yaml", SESSION, "session"),  # the ambiguous name: content wins
        ("calibrate_x.yaml", SESSION, "session"),
        ("session.yaml", CALIB, "calibration"),
        ("anything.yaml", MAPPING, "replay-mapping"),
        ("replay_x.yaml", {"name": "x"}, "replay-mapping"),  # a tie: the name decides
        ("x.yaml", {"name": "x"}, "session"),
        ("replay_y.yaml", {**SESSION, "kind": "session"}, "session"),
    ],
)
def test_kind_is_detected_from_content(tmp_path: Path, name: str, data: dict, kind: str) -> None:
    path = _write(tmp_path, name, data)
    assert detect_kind(data, path) == kind
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"ok ({kind} config)" in result.output


def test_session_config_named_replay_runs_as_a_session(tmp_path: Path) -> None:
    path = _write(tmp_path, "replay_x.yaml", SESSION)
    cfg = load_config(path)
    assert isinstance(cfg, SessionConfig) and cfg.window.hop == 0.2
    assert isinstance(load_config(path, SessionConfig), SessionConfig)


def test_wrong_kind_is_named_not_reported_as_unknown_keys(tmp_path: Path) -> None:
    calib = _write(tmp_path, "replay_eval.yaml", CALIB)
    with pytest.raises(ConfigError) as info:
        load_config(calib, SessionConfig)  # what `bci run` asks for
    assert "is a calibration config" in str(info.value) and "unknown key" not in str(info.value)
    result = runner.invoke(app, ["run", str(calib), "--duration", "1", "--no-live"])
    assert result.exit_code != 0 and "is a calibration config" in result.output
    session = _write(tmp_path, "calibrate_x.yaml", SESSION)
    with pytest.raises(ConfigError, match="is a session config"):
        load_config(session, CalibrationConfig)


def test_explicit_kind_and_its_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.yaml", {**SESSION, "kind": "calibration"})
    with pytest.raises(ConfigError, match="'kind' key says so"):
        load_config(path, SessionConfig)
    bad = _write(tmp_path, "b.yaml", {**SESSION, "kind": "sesion"})
    with pytest.raises(ConfigError, match="not a config kind") as info:
        load_config(bad)
    assert info.value.problems[0][0] == "kind"
    # a real typo in a session config is still an unknown key, with a hint about kinds
    typo = _write(tmp_path, "c.yaml", {**SESSION, "windw": {}})
    with pytest.raises(ConfigError, match="windw") as info:
        load_config(typo)
    assert "read as a session config" in str(info.value)
