"""devices.read_recording on every format, checked against pandas/pyxdf/MNE loads."""

from __future__ import annotations

import shutil

import mne
import numpy as np
import pandas as pd
import pytest
import pyxdf
from streams_helpers import write_bdf, write_brainvision

from bci import ConfigError, RecordingError
from bci.devices import CSVMapping, read_recording
from bci.devices._readers import scan_xdf

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("folder", "column"),
    [("muse-ssvep", "Marker0"), ("muse-p300", "Marker"), ("muse-n170", "Marker0")],
)
def test_muse_csv(test_data, folder, column):
    path = next((test_data / folder).glob("*.csv"))
    rec = read_recording(path)
    frame = pd.read_csv(path)
    (sig,) = rec.signals
    assert sig.spec.ch_names == ("TP9", "AF7", "AF8", "TP10", "Right AUX")
    assert sig.spec.sfreq == 256.0 and sig.spec.stype == "EEG"
    np.testing.assert_array_equal(sig.data, frame[list(sig.spec.ch_names)].to_numpy(np.float32).T)
    np.testing.assert_array_equal(sig.timestamps, frame["timestamps"].to_numpy())
    onsets = frame.index[frame[column] != 0]
    assert [m.value for m in rec.markers] == [str(int(v)) for v in frame[column][onsets]]
    np.testing.assert_array_equal([m.timestamp for m in rec.markers], frame["timestamps"][onsets])
    assert {m.value for m in rec.markers} == {"1", "2"}


def test_myo_txt(test_data):
    path = test_data / "myo-wrist-gestures/12345-1/7.txt"
    rec = read_recording(path)
    raw = np.loadtxt(path, delimiter=",")
    (sig,) = rec.signals
    assert sig.spec.sfreq == 200.0 and sig.spec.stype == "EMG" and sig.spec.n_channels == 8
    np.testing.assert_array_equal(sig.data, raw[:, :8].T)
    changes = np.flatnonzero(np.r_[True, raw[1:, 8] != raw[:-1, 8]])
    assert [m.value for m in rec.markers] == [str(int(v)) for v in raw[changes, 8]]
    assert {m.value for m in rec.markers} == {"0", "7"} and len(rec.markers) >= 6
    rec2 = read_recording(path, sfreq=199.0)
    assert rec2.signals[0].spec.sfreq == 199.0
    np.testing.assert_allclose(rec2.markers[1].timestamp, changes[1] / 199.0)


def test_edf_annotations(test_data):
    path = test_data / "eegmmidb-edf/S001R04.edf"
    rec = read_recording(path)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    (sig,) = rec.signals
    assert sig.spec.n_channels == 64 and sig.spec.sfreq == 160.0
    assert sig.spec.ch_names[:3] == ("Fc5", "Fc3", "Fc1")  # trailing dots stripped
    np.testing.assert_allclose(sig.data, raw.get_data() * 1e6, rtol=1e-6, atol=1e-3)
    assert [m.value for m in rec.markers] == list(raw.annotations.description)
    np.testing.assert_allclose([m.timestamp for m in rec.markers], raw.annotations.onset)


def test_xdf_multistream_and_clock_sync(test_data):
    path = test_data / "xdf-muse-multistream/sub-P031_ses-S001_task-Default_run-001_eeg.xdf"
    rec = read_recording(path)
    assert sorted(s.spec.stype for s in rec.signals) == ["ACC", "EEG", "GYRO", "PPG"]
    eeg = next(s for s in rec.signals if s.spec.stype == "EEG")
    assert eeg.spec.ch_names == ("TP9", "AF7", "AF8", "TP10", "AUX_RIGHT")
    assert eeg.spec.units[0] == "microvolts" and eeg.spec.sfreq == 256.0
    # empty streams and a footer that disagrees with the data
    rec3 = read_recording(
        test_data / "xdf-muse-multistream/sub-P003_ses-S001_task-Default_run-001_eeg.xdf"
    )
    assert sorted(s.data.shape[1] for s in rec3.signals)[:3] == [0, 0, 0]
    emg = read_recording(test_data / "xdf-openbci-emg-gestures/three_motion_one.xdf")
    streams, _ = pyxdf.load_xdf(
        str(test_data / "xdf-openbci-emg-gestures/three_motion_one.xdf"), dejitter_timestamps=False
    )
    ref = next(s for s in streams if s["info"]["type"][0] == "EEG")
    np.testing.assert_array_equal(emg.signals[0].data, ref["time_series"].T)
    np.testing.assert_array_equal(emg.signals[0].timestamps, ref["time_stamps"])
    assert {m.value for m in emg.markers} == {"0", "1", "2", "3"}
    assert all(m.stream == "MyMarkerStream" for m in emg.markers)


def test_fif_with_stim_channel(test_data, tmp_path):
    raw = mne.io.read_raw_edf(test_data / "eegmmidb-edf/S001R04.edf", preload=True, verbose="error")
    raw.pick(raw.ch_names[:4])
    stim = np.zeros((1, raw.n_times))
    stim[0, [160, 800]] = [3, 5]
    raw.add_channels(
        [mne.io.RawArray(stim, mne.create_info(["STI"], 160.0, "stim"), verbose="error")]
    )
    raw.save(tmp_path / "x_raw.fif", verbose="error")
    rec = read_recording(tmp_path / "x_raw.fif")
    assert rec.signals[0].spec.n_channels == 4
    stim_markers = [(m.timestamp, m.value) for m in rec.markers if m.stream.endswith("STI")]
    assert stim_markers == [(1.0, "3"), (5.0, "5")]
    assert sum(m.stream.endswith("annotations") for m in rec.markers) == 8


def test_bdf_status_channel(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((3, 512)) * 20
    status = np.zeros(512, dtype=np.int64)
    status[100:110] = 7
    status[300:305] = 2
    write_bdf(tmp_path / "x.bdf", data, ["Fz", "Cz", "Pz"], 256, status)
    rec = read_recording(tmp_path / "x.bdf")
    (sig,) = rec.signals
    assert sig.spec.ch_names == ("Fz", "Cz", "Pz") and sig.spec.sfreq == 256
    np.testing.assert_allclose(sig.data, data, atol=0.1)  # 1/32 uV steps
    assert [(m.timestamp, m.value) for m in rec.markers] == [(100 / 256, "7"), (300 / 256, "2")]


def test_brainvision(tmp_path):
    data = np.random.default_rng(2).standard_normal((2, 1000)).astype(np.float32) * 10
    write_brainvision(tmp_path / "bv", data, ["C3", "C4"], 500.0, [(250, "S  1"), (700, "S  2")])
    rec = read_recording(tmp_path / "bv.vhdr")
    (sig,) = rec.signals
    assert sig.spec.ch_names == ("C3", "C4") and sig.spec.sfreq == 500.0
    np.testing.assert_allclose(sig.data, data, rtol=1e-5)
    assert [(m.timestamp, m.value) for m in rec.markers] == [
        (0.5, "Stimulus/S  1"),
        (1.4, "Stimulus/S  2"),
    ]


def test_brainflow_csv(tmp_path):
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
    from brainflow.data_filter import DataFilter

    BoardShim.disable_board_logger()
    shim = BoardShim(BoardIds.SYNTHETIC_BOARD, BrainFlowInputParams())
    shim.prepare_session()
    shim.start_stream()
    try:
        import time

        deadline = time.monotonic() + 5
        shim.insert_marker(4.0)
        while shim.get_board_data_count() < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        data = shim.get_board_data()
    finally:
        shim.stop_stream()
        shim.release_session()
    DataFilter.write_file(data, str(tmp_path / "bf.csv"), "w")
    for mapping in (
        None,
        {"layout": "brainflow", "board": "synthetic"},
        ROOT / "configs/replay_brainflow.yaml",
    ):
        rec = read_recording(tmp_path / "bf.csv", mapping=mapping)
        eeg = rec.signals[0]
        assert eeg.spec.stype == "EEG" and eeg.spec.ch_names[:3] == ("Fz", "C3", "Cz")
        np.testing.assert_allclose(eeg.data, data[1:17], rtol=1e-5, atol=1e-5)  # CSV: 6 decimals
        assert [m.value for m in rec.markers] == ["4"]
    assert {s.spec.stype for s in rec.signals} >= {"EEG", "ACC", "GYRO"}


def test_generic_mapping_yaml(tmp_path):
    path = tmp_path / "dev.csv"
    t = np.arange(100) * 4.0  # ms
    frame = pd.DataFrame({"time_ms": t, "a": np.sin(t), "b": np.cos(t), "trigger": 0})
    frame.loc[[10, 60], "trigger"] = [1, 2]
    frame.to_csv(path, index=False)
    rec = read_recording(path, mapping=ROOT / "configs/replay_columns.yaml")
    (sig,) = rec.signals
    assert (
        sig.spec.ch_names == ("a", "b") and sig.spec.sfreq == 250.0 and sig.spec.name == "my-device"
    )
    assert [(m.timestamp, m.value) for m in rec.markers] == [(0.04, "1"), (0.24, "2")]
    for cfg in ("replay_muse", "replay_myo"):  # the shipped examples validate
        assert isinstance(
            CSVMapping(**__import__("yaml").safe_load((ROOT / f"configs/{cfg}.yaml").read_text())),
            CSVMapping,
        )
    with pytest.raises(ConfigError, match="time_colum"):
        read_recording(path, mapping={"layout": "columns", "time_colum": "t"})
    with pytest.raises(RecordingError, match="no column 'nope'"):
        read_recording(path, mapping={"layout": "columns", "header": True, "time_column": "nope"})


def test_truncated_xdf(test_data, tmp_path):
    src = test_data / "xdf-openbci-emg-gestures/three_motion_one.xdf"
    chunks = scan_xdf(src)
    off, length, tag = next(c for c in chunks[len(chunks) // 2 :] if c[2] == 3)
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(src.read_bytes()[: off + length // 2])
    with pytest.raises(RecordingError, match=r"cut\.xdf: truncated XDF: chunk #\d+ \(tag 3\)"):
        read_recording(cut)
    partial = read_recording(cut, strict=False)  # what pyxdf can read
    assert 0 < partial.signals[0].data.shape[1] < read_recording(src).signals[0].data.shape[1]
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(b"NOPE" + src.read_bytes()[4:1000])
    with pytest.raises(RecordingError, match="bad.xdf: not an XDF file"):
        read_recording(bad)


def test_broken_edf_header(test_data, tmp_path):
    raw = bytearray((test_data / "eegmmidb-edf/S001R04.edf").read_bytes())
    raw[252:256] = b"9x9 "  # number of signals
    path = tmp_path / "broken.edf"
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match="broken.edf: cannot read this EDF file"):
        read_recording(path)
    shutil.copy(test_data / "eegmmidb-edf/S001R04.edf", tmp_path / "short.edf")
    with open(tmp_path / "short.edf", "r+b") as f:
        f.truncate(5000)  # header promises 30 records
    with pytest.raises(RecordingError, match="short.edf"):
        read_recording(tmp_path / "short.edf")


def test_unknown_formats(tmp_path):
    (tmp_path / "x.csv").write_text("foo;bar\n1;2\n")
    with pytest.raises(RecordingError, match="unknown text layout"):
        read_recording(tmp_path / "x.csv")
    (tmp_path / "x.mat").write_bytes(b"\0" * 10)
    with pytest.raises(RecordingError, match="unknown recording format"):
        read_recording(tmp_path / "x.mat")
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "missing.xdf")
