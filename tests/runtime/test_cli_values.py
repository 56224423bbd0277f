"""Command-line values follow the rules of the matching config keys (same message, exit 2)."""

from __future__ import annotations

from pathlib import Path

import pylsl
import pytest
import yaml
from typer.testing import CliRunner

from bci._commands.main import app


@pytest.mark.parametrize("value", ["-5", "0"])
def test_bci_run_duration_is_checked_like_the_config_key(tmp_path: Path, value: str) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["run", "--duration", value, "--no-live"])
    assert res.exit_code == 2, res.output
    assert "--duration" in res.output and "greater than 0" in res.output
    cfg = tmp_path / "s.yaml"  # the same value in a config file: the same rule, the same code
    cfg.write_text(yaml.safe_dump({"duration": float(value)}))
    res_cfg = runner.invoke(app, ["run", str(cfg), "--no-live"])
    assert res_cfg.exit_code == 2 and "greater than 0" in res_cfg.output


def test_bci_replay_speed_and_sfreq_are_checked_like_the_config_keys(tmp_path: Path) -> None:
    src = tmp_path / "any.csv"  # the values are checked before the file is opened
    runner = CliRunner()
    for flag, value in (("--speed", "-1"), ("--speed", "0"), ("--sfreq", "-200")):
        res = runner.invoke(app, ["replay", str(src), flag, value])
        assert res.exit_code == 2, res.output
        assert flag in res.output and "greater than 0" in res.output


@pytest.mark.parametrize(
    "command",
    [
        ["record", "-o", "x.xdf", "--all"],
        ["replay", "any.csv"],
        ["stream", "--board", "synthetic"],
        ["bench", "--only", "runtime"],
    ],
)
@pytest.mark.parametrize("value", ["-5", "0"])
def test_every_stop_after_flag_is_checked_like_the_session_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], value: str
) -> None:
    """Checked before anything starts: no board streams, no file is written."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, [*command, "--duration", value])
    assert res.exit_code == 2, res.output
    assert "--duration" in res.output and "the same rule as config key 'duration'" in res.output
    assert list(tmp_path.iterdir()) == []


def test_bci_record_without_streams_lists_them_and_exits_2(tmp_path: Path, uid: str) -> None:
    outlet = pylsl.StreamOutlet(
        pylsl.StreamInfo(f"visible-{uid}", "EEG", 1, 100.0, "float32", f"src-{uid}")
    )
    res = CliRunner().invoke(
        app, ["record", "-o", str(tmp_path / "x.xdf"), "--resolve-timeout", "1.5"]
    )
    del outlet
    assert res.exit_code == 2, res.output
    assert f"visible-{uid}" in res.output and f"src-{uid}" in res.output
    assert "--streams" in res.output and "--all" in res.output
    assert not (tmp_path / "x.xdf").exists()


def test_live_calibration_trials_are_checked_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        app, ["calibrate", "--live", "-p", "mi", "--trials", "-3", "-o", str(tmp_path / "m")]
    )
    assert res.exit_code == 2, res.output
    assert "--trials -3" in res.output and "config key 'trials'" in res.output
    assert list(tmp_path.iterdir()) == []  # no recording, no model folder
