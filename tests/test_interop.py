"""Recording.to_mne() and ``bci export-bids`` on a real ``bci run`` session recording.

The session is a real ``bci run`` in a fresh process (simulated participant with its
headless SSVEP paradigm, the shipped decoder, LSL outputs, XDF recording); the BIDS dataset
is read back with mne-bids.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mne
import mne_bids
import numpy as np
import pandas as pd
import pytest
import yaml
from recordings import Generated
from typer.testing import CliRunner

from bci import RecordingError
from bci._commands.main import app
from bci.devices import read_recording
from bci.devices._readers import xdf_recording


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real 8-s ``bci run`` session recording and the names of its streams."""
    import os
    import uuid

    uid = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("session")
    names = {
        "signal": f"sim-{uid}",
        "markers": f"mk-{uid}",
        "decisions": f"dec-{uid}",
        "session": f"interop{uid.replace('-', '')}",
    }
    cfg = {
        "name": names["session"],
        "sources": [
            {
                "kind": "simulated",
                "name": names["signal"],
                "markers": names["markers"],
                "stimuli": f"st-{uid}",
                "truth": f"tr-{uid}",
            }
        ],
        "decoder": {"warmup": 2},
        "outputs": {"lsl": {"name": names["decisions"]}, "mqtt": {"enabled": False}},
        "recording": {"directory": str(root / "rec")},
    }
    (root / "s.yaml").write_text(yaml.safe_dump(cfg))
    cli = "from bci._commands.main import run; run()"
    args = [sys.executable, "-c", cli, "run", str(root / "s.yaml"), "--duration", "8", "--no-live"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return {**names, "path": next((root / "rec").glob("*.xdf"))}


def _nearest(ts: np.ndarray, t: float) -> int:
    return int(np.argmin(np.abs(ts - t)))


def _on_signal(markers: list, ts: np.ndarray, sfreq: float) -> list:
    """Markers within half a sample of the signal's span (the rest cannot be annotations)."""
    half = 0.5 / sfreq
    return [m for m in markers if ts[0] - half <= m.timestamp <= ts[-1] + half]


def test_to_mne_session(session: dict) -> None:
    rec = read_recording(session["path"])
    raw = rec.to_mne(markers=[session["markers"]])
    sig = next(s for s in rec.signals if s.spec.name == session["signal"])
    assert isinstance(raw, mne.io.RawArray)
    assert raw.ch_names == list(sig.spec.ch_names) and raw.info["sfreq"] == sig.spec.sfreq
    assert set(raw.get_channel_types()) == {"eeg"}
    # microvolts in the recording, volts in MNE
    np.testing.assert_allclose(raw.get_data(), sig.data * 1e-6, rtol=1e-6, atol=1e-12)
    stim = [m for m in rec.markers if m.stream == session["markers"]]
    stim = _on_signal(stim, sig.timestamps, sig.spec.sfreq)
    assert len(stim) >= 2 and list(raw.annotations.description) == [m.value for m in stim]
    period = 1.0 / sig.spec.sfreq
    for onset, m in zip(raw.annotations.onset, stim, strict=True):
        assert abs(onset - _nearest(sig.timestamps, m.timestamp) * period) <= period
    assert repr(float(sig.timestamps[0])) in raw.info["description"]
    # default: every marker stream; the decoded signal, never the irregular decisions
    everything = _on_signal(rec.markers, sig.timestamps, sig.spec.sfreq)
    assert len(rec.to_mne().annotations) == len(everything) > len(stim)
    with pytest.raises(RecordingError, match="no sampling rate"):
        rec.to_mne(signal=session["decisions"])
    with pytest.raises(RecordingError, match="no signal named 'nope'"):
        rec.to_mne(signal="nope")


@pytest.mark.parametrize(("key", "kind"), [("myo", "emg"), ("xdf-emg", "emg"), ("edf", "eeg")])
def test_to_mne_generated(generated: Generated, key: str, kind: str) -> None:
    """Channel types come from the channels (the OpenBCI-style EMG stream has LSL type EEG but
    emg channels); units from the stream (Myo EMG has none: taken as uV)."""
    rec = read_recording(generated[key])
    raw = rec.to_mne()
    sig = rec.signals[0]
    assert set(raw.get_channel_types()) == {kind} and raw.ch_names == list(sig.spec.ch_names)
    np.testing.assert_allclose(raw.get_data(), sig.data * 1e-6, rtol=1e-6, atol=1e-12)
    onsets = np.array([m.timestamp for m in rec.markers]) - sig.timestamps[0]
    assert np.abs(raw.annotations.onset - onsets).max() <= 1.0 / sig.spec.sfreq


def test_export_bids_roundtrip(session: dict, tmp_path: Path) -> None:
    root = tmp_path / "bids"
    args = ["export-bids", str(session["path"]), "--root", str(root), "--subject", "07"]
    res = CliRunner().invoke(app, [*args, "--task", "ssvep", "--line-freq", "50"])
    assert res.exit_code == 0, res.output
    rec, _ = xdf_recording(session["path"])
    sig = next(s for s in rec.signals if s.spec.name == session["signal"])
    stim = [m for m in rec.markers if m.stream == session["markers"]]
    stim = _on_signal(stim, sig.timestamps, sig.spec.sfreq)
    assert len(stim) >= 2

    bids_path = mne_bids.BIDSPath(subject="07", task="ssvep", datatype="eeg", root=root)
    raw = mne_bids.read_raw_bids(bids_path, verbose="error")
    assert raw.ch_names == list(sig.spec.ch_names) and raw.info["sfreq"] == sig.spec.sfreq
    assert raw.n_times == sig.data.shape[1] and raw.info["line_freq"] == 50
    np.testing.assert_allclose(raw.get_data() * 1e6, sig.data, rtol=1e-5, atol=1e-3)
    period = 1.0 / sig.spec.sfreq
    assert list(raw.annotations.description) == [m.value for m in stim]
    for onset, m in zip(raw.annotations.onset, stim, strict=True):
        assert abs(onset - (m.timestamp - sig.timestamps[0])) <= period
    events = pd.read_csv(bids_path.copy().update(suffix="events", extension=".tsv").fpath, sep="\t")
    assert list(events["trial_type"]) == [m.value for m in stim]
    channels = pd.read_csv(
        bids_path.copy().update(suffix="channels", extension=".tsv").fpath, sep="\t"
    )
    assert list(channels["name"]) == raw.ch_names and set(channels["type"]) == {"EEG"}
    sidecar = json.loads(
        Path(bids_path.copy().update(suffix="eeg", extension=".json").fpath).read_text()
    )
    assert sidecar["SamplingFrequency"] == sig.spec.sfreq and sidecar["TaskName"] == "ssvep"

    deriv = root / "derivatives" / "bci-runtime"
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "bci-runtime"
    folder = deriv / "sub-07" / "eeg"
    dec = next(s for s in rec.signals if s.spec.stype == "Decision")
    decisions = pd.read_csv(folder / "sub-07_task-ssvep_desc-decisions_events.tsv", sep="\t")
    assert len(decisions) == dec.data.shape[1] >= 10
    np.testing.assert_allclose(decisions["t_sample"], dec.timestamps, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        decisions["onset"], dec.timestamps - sig.timestamps[0], rtol=0, atol=period
    )
    classes = dec.spec.ch_names[:-1]
    probs = decisions[[f"p_{c}" for c in classes]].to_numpy().T
    np.testing.assert_allclose(probs, dec.data[:-1], rtol=1e-6)
    stamps = next(s for s in rec.signals if s.spec.stype == "LatencyStamps")
    latency = pd.read_csv(folder / "sub-07_task-ssvep_desc-latency_events.tsv", sep="\t")
    want_ms = (stamps.data[3] - stamps.data[0]) * 1e3
    np.testing.assert_allclose(latency["decision_ms"], want_ms, atol=1e-3)
    runtime = pd.read_csv(folder / "sub-07_task-ssvep_desc-runtime_events.tsv", sep="\t")
    assert "stopped" in set(runtime["event"])
    assert (
        json.loads((folder / "sub-07_task-ssvep_desc-latency_events.json").read_text())[
            "decision_ms"
        ]["Units"]
        == "ms"
    )


def test_export_bids_other_formats_and_errors(generated: Generated, tmp_path: Path) -> None:
    root = tmp_path / "bids"
    runner = CliRunner()
    edf = ["export-bids", str(generated["edf"]), "--root", str(root), "--format", "EDF"]
    res = runner.invoke(app, edf)
    assert res.exit_code == 0, res.output
    assert "derivative" not in res.output  # a plain file has no decisions
    raw = mne_bids.read_raw_bids(
        mne_bids.BIDSPath(subject="01", task="bci", datatype="eeg", root=root), verbose="error"
    )
    src = generated.sources["edf"]
    assert raw.ch_names == list(src.signals[0].spec.ch_names) and raw.info["sfreq"] == 160.0
    np.testing.assert_allclose(
        raw.annotations.onset, [m.timestamp for m in src.markers], atol=1 / 160
    )
    res = runner.invoke(app, edf)
    assert res.exit_code == 1 and "--overwrite" in res.output
    assert runner.invoke(app, [*edf, "--overwrite"]).exit_code == 0
    res = runner.invoke(app, [*edf, "--subject", "a_b"])
    assert res.exit_code == 2 and "--subject" in res.output
    res = runner.invoke(app, ["export-bids", str(tmp_path / "none.xdf"), "--root", str(root)])
    assert res.exit_code == 1 and "none.xdf: no such file" in res.output


def test_export_bids_emg(generated: Generated, tmp_path: Path) -> None:
    """An EMG recording goes to EMG-BIDS (emg/ folder, EDF), read back with mne-bids."""
    root = tmp_path / "bids"
    args = ["export-bids", str(generated["xdf-emg"]), "--root", str(root), "--task", "gestures"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "sub-01_task-gestures_emg.edf" in res.output
    src = generated.sources["xdf-emg"]
    sig = src.signals[0]
    raw = mne_bids.read_raw_bids(
        mne_bids.BIDSPath(subject="01", task="gestures", datatype="emg", root=root),
        verbose="error",
    )
    assert raw.ch_names == list(sig.spec.ch_names) and raw.info["sfreq"] == sig.spec.sfreq
    assert set(raw.get_channel_types()) == {"emg"}
    assert list(raw.annotations.description) == [m.value for m in src.markers]
    onsets = np.array([m.timestamp for m in src.markers]) - sig.timestamps[0]
    assert np.abs(raw.annotations.onset - onsets).max() <= 1 / sig.spec.sfreq
    res = CliRunner().invoke(app, [*args, "--overwrite", "--format", "BrainVision"])
    assert res.exit_code == 2 and "EDF or BDF only" in res.output


def test_to_mne_onsets_follow_sample_stamps() -> None:
    """A 2-s gap in the stream: an event after it lands on the sample recorded at its time
    (MNE's time axis has no gap), and markers off the signal are left out."""
    from bci import Marker, Recording, Signal, StreamSpec

    sfreq, n = 100.0, 1000
    ts = 50.0 + np.arange(n) / sfreq
    ts[500:] += 2.0  # the source stalled for 2 s
    ts += np.random.default_rng(0).uniform(-2e-3, 2e-3, n)  # timestamp jitter
    spec = StreamSpec("s", "EEG", "s", sfreq, ("C3", "C4"), ("eeg", "eeg"), ("microvolts",) * 2)
    sig = Signal(spec, np.zeros((2, n), np.float32), ts)
    marks = [Marker(ts[120], "a"), Marker(ts[700], "b"), Marker(10.0, "early"), Marker(99.0, "x")]
    raw = Recording("gap", [sig], marks).to_mne()
    assert list(raw.annotations.description) == ["a", "b"]
    np.testing.assert_allclose(raw.annotations.onset, [120 / sfreq, 700 / sfreq], atol=1e-9)
