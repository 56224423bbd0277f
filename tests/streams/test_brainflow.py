"""BoardBrainFlow: BrainFlow's synthetic board on LSL, errors with vendor exit codes."""

from __future__ import annotations

import numpy as np
import pytest
from streams_helpers import wait_until

from bci import DeviceError
from bci.devices import BoardBrainFlow, SourceLSL, board_id


def test_synthetic_board_on_lsl(uid):
    board = BoardBrainFlow("synthetic", name=f"bf-{uid}").start()
    try:
        eeg = SourceLSL(name=f"bf-{uid}", stype="EEG").connect()
        acc = SourceLSL(name=f"bf-{uid}-ACC").connect()
        mk = SourceLSL(name=f"bf-{uid}-markers").connect()
        assert eeg.spec.ch_names[:4] == ("Fz", "C3", "Cz", "C4") and eeg.spec.n_channels == 16
        assert eeg.spec.sfreq == 250.0 and eeg.spec.units[0] == "microvolts"
        assert eeg.spec.manufacturer.startswith("BrainFlow")
        assert acc.spec.ch_names == ("ACC_X", "ACC_Y", "ACC_Z") and acc.spec.units[0] == "g"
        chunks = []
        wait_until(
            lambda: (
                (c := eeg.pull()) is not None
                and chunks.append(c) is None
                and sum(x.n_times for x in chunks) > 250
            ),
            10.0,
        )
        data = np.concatenate([c.data for c in chunks], axis=1)
        assert data.shape[1] > 250 and np.std(data) > 0
        board.insert_marker(7)
        got = []
        assert wait_until(
            lambda: (c := mk.pull()) is not None and got.extend(c.data[0]) is None, 5.0
        )
        assert got == ["7"]
        for s in (eeg, acc, mk):
            s.disconnect()
    finally:
        board.stop()
    board.stop()  # idempotent


def test_board_errors_keep_vendor_codes():
    assert board_id("synthetic") == -1 and board_id("-1") == -1 and board_id("Cyton") == 0
    with pytest.raises(DeviceError, match="Known boards:.*synthetic"):
        board_id("nosuchboard")
    with pytest.raises(DeviceError, match="Unknown BrainFlow parameter 'serial'"):
        BoardBrainFlow("cyton", params={"serial": "/dev/x"})
    with pytest.raises(DeviceError, match="master_board"):
        BoardBrainFlow("playback_file", params={"file": "x.csv"})
    board = BoardBrainFlow("cyton", params={"serial_port": "/dev/does-not-exist"})
    with pytest.raises(DeviceError, match="failed to start") as info:
        board.start()
    assert info.value.exit_code is not None and info.value.exit_code != 0


def test_playback_board_replays_brainflow_csv(tmp_path, uid):
    """BrainFlow's playback board re-streams its own CSV; values arrive unchanged."""
    from brainflow.data_filter import DataFilter

    rows = np.zeros((32, 500))
    rows[1:17] = np.arange(500)[None, :] + np.arange(16)[:, None] * 1000.0
    rows[30] = 1.7e9 + np.arange(500) / 250.0
    DataFilter.write_file(rows, str(tmp_path / "pb.csv"), "w")
    board = BoardBrainFlow(
        "playback_file",
        params={"file": str(tmp_path / "pb.csv"), "master_board": "-1"},
        name=f"pb-{uid}",
    ).start()
    try:
        eeg = SourceLSL(name=f"pb-{uid}", stype="EEG").connect()
        chunks = []
        wait_until(
            lambda: (
                (c := eeg.pull()) is not None
                and chunks.append(c) is None
                and sum(x.n_times for x in chunks) > 100
            ),
            10.0,
        )
        data = np.concatenate([c.data for c in chunks], axis=1)
        assert data.shape[1] > 100
        # every sample is one of the file's samples, channel k = sample + 1000 k
        np.testing.assert_array_equal(data[5] - data[0], 5000.0)
        assert set(np.diff(data[0])) <= {1.0}
        eeg.disconnect()
    finally:
        board.stop()
