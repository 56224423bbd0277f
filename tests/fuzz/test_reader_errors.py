"""Clear reader errors: empty files, truncated XDF (and --partial), trigger-channel detection."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bci import RecordingError
from bci._commands.main import app
from bci.devices import ReplayLSL, read_recording

from ._files import write_edf, write_xdf


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".xdf", ".edf", ".bdf", ".fif", ".vhdr"])
def test_an_empty_file_says_it_is_empty(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(RecordingError, match="is empty"):
        read_recording(path)
    res = CliRunner().invoke(app, ["replay", str(path)])
    assert res.exit_code == 1 and "is empty" in res.output


def test_truncated_xdf_names_the_partial_flag_which_replays_the_complete_part(
    tmp_path: Path,
) -> None:
    full = write_xdf(tmp_path / "full.xdf", np.random.default_rng(0))[0]
    data = full.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: len(data) - 100])  # the footers and the end of a chunk are gone
    with pytest.raises(RecordingError, match="bci replay --partial") as info:
        read_recording(cut)
    assert "strict=False" in str(info.value) and "Pass strict=False" not in str(info.value)
    res = CliRunner().invoke(app, ["replay", str(cut), "--speed", "100"])
    assert res.exit_code == 1 and "--partial" in res.output
    player = ReplayLSL(cut, speed=100, partial=True)  # the flag's library side
    assert player.specs and any(s.name == "eeg" for s in player.specs)
    assert read_recording(cut, strict=False).signals[0].data.shape[1] > 0


def test_partial_flag_replays_a_truncated_xdf_from_the_cli(tmp_path: Path, uid: str) -> None:
    full = write_xdf(tmp_path / "full.xdf", np.random.default_rng(1))[0]
    data = full.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: len(data) - 100])
    res = CliRunner().invoke(
        app,
        ["replay", str(cut), "--partial", "--speed", "50", "--source-prefix", f"{uid}-"],
    )
    assert res.exit_code == 0, res.output


def _trigger_bdf(tmp_path: Path, trigger: np.ndarray, name: str = "x.bdf") -> Path:
    return write_edf(
        tmp_path / name, np.random.default_rng(0), bdf=True, extra={"Trigger": trigger}
    )[0]


def test_a_continuous_channel_named_trigger_is_a_signal_not_markers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bci")
    cont = np.cumsum(np.random.default_rng(2).standard_normal(256)) * 100
    path = _trigger_bdf(tmp_path, cont)
    rec = read_recording(path)
    assert rec.markers == []  # was one marker per sample change (~250 here)
    assert any("Trigger" in s.spec.ch_names for s in rec.signals)
    assert "kept as a signal" in caplog.text and "'Trigger'" in caplog.text
    forced = read_recording(path, stim_channel="Trigger")  # the override
    assert len(forced.markers) > 200


def test_a_real_trigger_channel_becomes_markers_and_the_log_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bci")
    trig = np.zeros(256)
    trig[40:48], trig[150:158] = 3, 5
    path = _trigger_bdf(tmp_path, trig)
    rec = read_recording(path)
    assert [m.value for m in rec.markers] == ["3", "5"]
    assert "read as trigger channel" in caplog.text
    assert read_recording(path, stim_channel=False).markers == []  # everything a signal
    with pytest.raises(RecordingError, match="not in the file"):
        read_recording(path, stim_channel="Nope")


def test_stim_channel_cli_flag(tmp_path: Path, uid: str) -> None:
    cont = np.cumsum(np.random.default_rng(3).standard_normal(256)) * 100
    path = _trigger_bdf(tmp_path, cont)
    runner = CliRunner()
    res = runner.invoke(app, ["replay", str(path), "--speed", "50", "--stim-channel", "Trigger",
                              "--source-prefix", f"{uid}-"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "-Trigger (Markers" in res.output  # the forced channel became a marker stream
    res = runner.invoke(app, ["replay", str(path), "--speed", "50", "--source-prefix", f"{uid}-"])
    assert res.exit_code == 0 and "-Trigger (Markers" not in res.output
