"""TEMPORARY private loader until ``devices.read_recording`` lands (contract 3). Delete then."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bci import Marker, Recording, RecordingError, Signal, StreamSpec


def read_recording_tmp(path: str | Path, *, sfreq: float | None = None) -> Recording:
    """Read the shared data formats into a :class:`bci.Recording` (stop-gap)."""
    path = Path(path)
    if path.suffix == ".csv":
        import pandas as pd

        d = pd.read_csv(path)
        mk = [c for c in d.columns if c.startswith("Marker")]
        chs = [c for c in d.columns if c not in ("timestamps", *mk)]
        ts = d["timestamps"].to_numpy(np.float64)
        fs = sfreq or float(np.round((len(ts) - 1) / (ts[-1] - ts[0])))
        spec = StreamSpec(
            "Muse", "EEG", "", fs, tuple(chs), ("eeg",) * len(chs), ("uV",) * len(chs)
        )
        sig = Signal(spec, d[chs].to_numpy(np.float32).T.copy(), ts)
        markers = []
        if mk:
            ev = d[mk[0]].to_numpy()
            for i in np.flatnonzero(ev != 0):
                markers.append(Marker(float(ts[i]), str(int(ev[i])), mk[0]))
        return Recording(str(path), [sig], markers)
    if path.suffix == ".txt":
        d = np.loadtxt(path, delimiter=",", dtype=np.float32)
        fs = sfreq or 200.0
        ts = np.arange(len(d)) / fs
        chs = tuple(f"emg{i + 1}" for i in range(8)) + ("label",)
        spec = StreamSpec("Myo", "EMG", "", fs, chs, ("emg",) * 8 + ("misc",), ())
        return Recording(str(path), [Signal(spec, d.T.copy(), ts)], [])
    if path.suffix == ".xdf":
        import pyxdf

        streams, _ = pyxdf.load_xdf(str(path))
        sigs, markers = [], []
        for s in streams:
            info = s["info"]
            name, stype = info["name"][0], info["type"][0]
            if info["channel_format"][0] == "string":
                for t, v in zip(s["time_stamps"], s["time_series"], strict=False):
                    markers.append(Marker(float(t), str(v[0]), name))
                continue
            data = np.asarray(s["time_series"], np.float32).T
            n = data.shape[0]
            spec = StreamSpec(
                name,
                stype,
                "",
                float(info["nominal_srate"][0]),
                tuple(f"ch{i + 1}" for i in range(n)),
            )
            sigs.append(Signal(spec, data, np.asarray(s["time_stamps"], np.float64)))
        markers.sort(key=lambda m: m.timestamp)
        return Recording(str(path), sigs, markers)
    if path.suffix.lower() == ".edf":
        import mne

        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        raw.rename_channels(lambda c: c.strip("."))
        fs = raw.info["sfreq"]
        ts = raw.times.copy()
        spec = StreamSpec("EDF", "EEG", "", fs, tuple(raw.ch_names))
        markers = [
            Marker(float(a["onset"]), str(a["description"]), "annotations") for a in raw.annotations
        ]
        return Recording(
            str(path), [Signal(spec, (raw.get_data() * 1e6).astype(np.float32), ts)], markers
        )
    raise RecordingError(f"{path}: unsupported format (temporary loader)")
