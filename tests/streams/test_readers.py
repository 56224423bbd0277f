"""bci.devices.read_recording and write_recording on every format.

Fresh-clone tests read the recordings the project generates (``generated``: the simulated
participant written out in each format) and check each reader against what was written and
against an independent load (pandas, numpy, pyxdf, MNE). The ``shared_data`` tests check the
same readers on real recordings and skip where those are absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
import pyxdf
from recordings import Generated

from bci import ConfigError, Marker, Recording, RecordingError
from bci.devices import CSVMapping, read_recording, write_recording
from bci.devices._readers import scan_xdf

ROOT = Path(__file__).resolve().parents[2]

#: What a reader returns for a written marker value, per format.
DESCRIBE = {
    "vhdr": lambda v: f"Stimulus/S{int(v):>3}" if v.isdigit() else f"Comment/{v}",
}
#: Largest sample error per format (uV) where it is not float32 (EDF: checked per channel).
ATOL = {"bdf": 1e-3}


def _check_against_source(key: str, got: Recording, src: Recording) -> None:
    """Channels, rate, samples, marker values and onsets (within one sample)."""
    assert len(got.signals) == len(src.signals)
    for have, want in zip(got.signals, src.signals, strict=True):
        assert have.spec.ch_names == want.spec.ch_names
        assert have.spec.sfreq == want.spec.sfreq
        assert have.data.shape == want.data.shape
        if key == "edf":  # 16-bit samples over each channel's range
            step = np.ptp(want.data, axis=1, keepdims=True) / 65535
            assert (np.abs(have.data - want.data) <= step).all()
        else:
            np.testing.assert_allclose(have.data, want.data, rtol=1e-6, atol=ATOL.get(key, 1e-4))
        if key.startswith(("xdf", "muse")) and want.timestamps.size:
            np.testing.assert_allclose(have.timestamps, want.timestamps, atol=1e-6, rtol=0)
    describe = DESCRIBE.get(key, str)
    assert [m.value for m in got.markers] == [describe(m.value) for m in src.markers]
    sig = src.signals[0]
    period = 1.0 / sig.spec.sfreq
    t0 = 0.0 if key.startswith(("xdf", "muse", "myo")) else float(sig.timestamps[0])
    err = np.abs(
        np.array([m.timestamp for m in got.markers]) - t0 - [m.timestamp for m in src.markers]
    )
    assert err.max() <= period, f"{key}: onsets off by {err.max() / period:.2f} samples"


@pytest.mark.parametrize(
    "key", ["muse-ssvep", "myo", "xdf-emg", "xdf-multi", "edf", "bdf", "vhdr", "fif"]
)
def test_every_writer_and_reader(generated: Generated, key: str) -> None:
    """Each generated file reads back as what was written (this exercises every writer)."""
    _check_against_source(key, read_recording(generated[key]), generated.sources[key])


def test_muse_csv(generated: Generated) -> None:
    path = generated["muse-ssvep"]
    rec = read_recording(path)
    frame = pd.read_csv(path)
    (sig,) = rec.signals
    assert sig.spec.ch_names == ("TP9", "AF7", "AF8", "TP10", "Right AUX")
    assert sig.spec.sfreq == 256.0 and sig.spec.stype == "EEG"
    np.testing.assert_array_equal(sig.data, frame[list(sig.spec.ch_names)].to_numpy(np.float32).T)
    np.testing.assert_array_equal(sig.timestamps, frame["timestamps"].to_numpy())
    onsets = frame.index[frame["Marker0"] != 0]
    assert [m.value for m in rec.markers] == [str(int(v)) for v in frame["Marker0"][onsets]]
    np.testing.assert_array_equal([m.timestamp for m in rec.markers], frame["timestamps"][onsets])
    assert {m.value for m in rec.markers} == {"1", "2"}


def test_myo_txt(generated: Generated) -> None:
    path = generated["myo"]
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


def test_edf_annotations(generated: Generated) -> None:
    path = generated["edf"]
    rec = read_recording(path)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    (sig,) = rec.signals
    assert sig.spec.n_channels == 16 and sig.spec.sfreq == 160.0
    np.testing.assert_allclose(sig.data, raw.get_data() * 1e6, rtol=1e-6, atol=1e-3)
    assert [m.value for m in rec.markers] == list(raw.annotations.description)
    np.testing.assert_allclose([m.timestamp for m in rec.markers], raw.annotations.onset)


def test_xdf_multistream_and_clock_sync(generated: Generated) -> None:
    rec = read_recording(generated["xdf-multi"])
    assert sorted(s.spec.stype for s in rec.signals) == ["ACC", "EEG", "PPG"]
    eeg = next(s for s in rec.signals if s.spec.stype == "EEG")
    assert eeg.spec.units[0] == "microvolts" and eeg.spec.sfreq == 256.0
    assert next(s for s in rec.signals if s.spec.stype == "PPG").data.shape == (3, 0)
    acc = next(s for s in rec.signals if s.spec.stype == "ACC")
    assert acc.spec.ch_types == ("accelerometer",) * 3 and acc.spec.units == ("g",) * 3
    path = generated["xdf-emg"]
    emg = read_recording(path)
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    ref = next(s for s in streams if s["info"]["type"][0] == "EEG")
    np.testing.assert_array_equal(emg.signals[0].data, ref["time_series"].T)
    np.testing.assert_array_equal(emg.signals[0].timestamps, ref["time_stamps"])
    assert {m.value for m in emg.markers} == {f"{k}{e}" for k in "0123" for e in "se"}
    assert all(m.stream == "MyMarkerStream" for m in emg.markers)


def test_fif_with_stim_channel(generated: Generated, tmp_path: Path) -> None:
    raw = mne.io.read_raw_edf(generated["edf"], preload=True, verbose="error")
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
    n_annotations = len(generated.sources["edf"].markers)
    assert sum(m.stream.endswith("annotations") for m in rec.markers) == n_annotations


def test_bdf_status_channel(generated: Generated) -> None:
    rec = read_recording(generated["bdf"])
    raw = mne.io.read_raw_bdf(generated["bdf"], preload=True, verbose="error")
    assert raw.get_channel_types()[-1] == "stim" and raw.ch_names[-1] == "Status"
    (sig,) = rec.signals
    src = generated.sources["bdf"].signals[0]
    assert sig.spec.ch_names == src.spec.ch_names and sig.spec.sfreq == 256
    assert np.abs(sig.data - src.data).max() < np.ptp(src.data) / 2**23  # 24-bit samples
    assert {m.value for m in rec.markers} == {"1", "2"}
    assert all(m.stream.endswith("Status") for m in rec.markers)


def test_brainvision(generated: Generated, tmp_path: Path) -> None:
    rec = read_recording(generated["vhdr"])
    assert {m.value for m in rec.markers} == {"Comment/face", "Comment/house"}
    raw = mne.io.read_raw_brainvision(generated["vhdr"], preload=True, verbose="error")
    np.testing.assert_allclose(rec.signals[0].data, raw.get_data() * 1e6, rtol=1e-6, atol=1e-4)
    # integer markers are Stimulus events, as a BrainVision amplifier writes them
    sig = rec.signals[0]
    t0 = float(sig.timestamps[0])
    ints = Recording("x", [sig], [Marker(t0 + 0.5, "1"), Marker(t0 + 1.4, "12")])
    back = read_recording(write_recording(ints, tmp_path / "bv.vhdr"))
    assert [(m.timestamp, m.value) for m in back.markers] == [
        (0.5, "Stimulus/S  1"),
        (1.4, "Stimulus/S 12"),
    ]


@pytest.mark.parametrize("suffix", [".edf", ".vhdr", "_raw.fif", ".xdf"])
def test_unitless_emg_roundtrip(generated: Generated, tmp_path: Path, suffix: str) -> None:
    """Myo samples carry no unit: every format writes and reads them back unchanged."""
    src = read_recording(generated["myo"])
    back = read_recording(write_recording(src, tmp_path / f"myo{suffix}"))
    want = src.signals[0].data
    step = np.ptp(want, axis=1, keepdims=True) / 65535 if suffix == ".edf" else 1e-4
    assert (np.abs(back.signals[0].data - want) <= step + 1e-4).all()
    assert len(back.markers) == len(src.markers)


def test_writer_errors(generated: Generated, tmp_path: Path) -> None:
    src = generated.sources["vhdr"]  # string markers
    with pytest.raises(RecordingError, match=r"marker 'face' is not an integer.*codes="):
        write_recording(src, tmp_path / "x.csv")
    with pytest.raises(RecordingError, match=r"cannot write '\.mat' files"):
        write_recording(src, tmp_path / "x.mat")
    with pytest.raises(RecordingError, match="no signal named 'nope'"):
        write_recording(src, tmp_path / "x.edf", signal="nope")
    write_recording(src, tmp_path / "x.edf")
    with pytest.raises(RecordingError, match="exists; pass overwrite=True"):
        write_recording(src, tmp_path / "x.edf")
    write_recording(src, tmp_path / "x.edf", overwrite=True)
    codes = {"face": 1, "house": 2}
    back = read_recording(write_recording(src, tmp_path / "x.csv", codes=codes))
    assert [m.value for m in back.markers] == [str(codes[m.value]) for m in src.markers]


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


def test_truncated_xdf(generated: Generated, tmp_path: Path) -> None:
    src = generated["xdf-emg"]
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


def test_broken_edf_header(generated: Generated, tmp_path: Path) -> None:
    raw = bytearray(generated["edf"].read_bytes())
    raw[252:256] = b"9x9 "  # number of signals
    path = tmp_path / "broken.edf"
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match="broken.edf: cannot read this EDF file"):
        read_recording(path)
    shutil.copy(generated["edf"], tmp_path / "short.edf")
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


# --------------------------------------------------------------------------- real recordings
@pytest.mark.parametrize(
    ("folder", "column"),
    [("muse-ssvep", "Marker0"), ("muse-p300", "Marker"), ("muse-n170", "Marker0")],
)
def test_real_muse_csv(shared_data: Path, folder: str, column: str) -> None:
    path = sorted((shared_data / folder / "subject1" / "session1").glob("*.csv"))[0]
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


def test_real_myo_txt(shared_data: Path) -> None:
    path = shared_data / "myo-wrist-gestures/right_hand/12345-1/7.txt"
    rec = read_recording(path)
    raw = np.loadtxt(path, delimiter=",")
    (sig,) = rec.signals
    assert sig.spec.sfreq == 200.0 and sig.spec.stype == "EMG" and sig.spec.n_channels == 8
    np.testing.assert_array_equal(sig.data, raw[:, :8].T)
    changes = np.flatnonzero(np.r_[True, raw[1:, 8] != raw[:-1, 8]])
    assert [m.value for m in rec.markers] == [str(int(v)) for v in raw[changes, 8]]
    assert {m.value for m in rec.markers} == {"0", "7"} and len(rec.markers) >= 6


def test_real_edf_annotations(shared_data: Path) -> None:
    path = shared_data / "eegmmidb-edf/S001/S001R04.edf"
    rec = read_recording(path)
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    (sig,) = rec.signals
    assert sig.spec.n_channels == 64 and sig.spec.sfreq == 160.0
    assert sig.spec.ch_names[:3] == ("Fc5", "Fc3", "Fc1")  # trailing dots stripped
    np.testing.assert_allclose(sig.data, raw.get_data() * 1e6, rtol=1e-6, atol=1e-3)
    assert [m.value for m in rec.markers] == list(raw.annotations.description)
    assert {m.value for m in rec.markers} == {"T0", "T1", "T2"}
    np.testing.assert_allclose([m.timestamp for m in rec.markers], raw.annotations.onset)


def test_real_xdf_multistream_and_clock_sync(shared_data: Path) -> None:
    muse = shared_data / "xdf-muse-multistream/data"
    rec = read_recording(
        muse / "sub-P031/ses-S001/eeg/sub-P031_ses-S001_task-Default_run-001_eeg.xdf"
    )
    assert sorted(s.spec.stype for s in rec.signals) == ["ACC", "EEG", "GYRO", "PPG"]
    eeg = next(s for s in rec.signals if s.spec.stype == "EEG")
    assert eeg.spec.ch_names == ("TP9", "AF7", "AF8", "TP10", "AUX_RIGHT")
    assert eeg.spec.units[0] == "microvolts" and eeg.spec.sfreq == 256.0
    # empty streams and a footer that disagrees with the data
    rec3 = read_recording(
        muse / "sub-P003/ses-S001/eeg/sub-P003_ses-S001_task-Default_run-001_eeg.xdf"
    )
    assert sorted(s.data.shape[1] for s in rec3.signals)[:3] == [0, 0, 0]
    path = shared_data / "xdf-openbci-emg-gestures/threeMotionData/three_motion_one.xdf"
    emg = read_recording(path)
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    ref = next(s for s in streams if s["info"]["type"][0] == "EEG")
    np.testing.assert_array_equal(emg.signals[0].data, ref["time_series"].T)
    np.testing.assert_array_equal(emg.signals[0].timestamps, ref["time_stamps"])
    assert {m.value for m in emg.markers} == {"0", "1", "2", "3"}
    assert all(m.stream == "MyMarkerStream" for m in emg.markers)
