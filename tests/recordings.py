"""Recordings the project generates: the simulated participant written out in every format.

Tests that must pass on a fresh clone use these instead of real data. The session-scoped
fixture ``generated`` (tests/conftest.py) calls :func:`build`, which simulates a few
participants offline (deterministic) and writes them with
:func:`bci.devices.write_recording` into a temporary folder laid out like the real data sets
(same folder names, so data-set configs and folder-based options apply unchanged):

=================================  ==========================================================
key / file                         content
=================================  ==========================================================
``muse-ssvep`` (2 CSV)             eeg-notebooks Muse layout, 256 Hz, TP9/AF7/AF8/TP10/Right
                                   AUX (Right AUX over POz), 3-s SSVEP trials at 30 Hz (code
                                   1) and 20 Hz (code 2) every 4 s, 24 per file
``myo`` (txt)                      Myo layout, 8-ch EMG at 200 Hz, per-sample label 0/7
                                   (rest/fist), in ``myo-wrist-gestures/12345-1/7.txt``
``xdf-emg`` (XDF)                  OpenBCI-style 8-ch EMG at 250 Hz (LSL type ``EEG``) and
                                   a ``MyMarkerStream`` of start/end markers ``<k>s``/``<k>e``
``xdf-multi`` (XDF)                EEG 256 Hz, ACC 52 Hz, an empty PPG stream, markers
``edf`` (EDF+)                     16-ch EEG at 160 Hz, 30 s, annotations
``bdf`` (BDF)                      8-ch EEG at 256 Hz, integer codes on ``Status``
``vhdr`` (BrainVision)             8-ch EEG at 500 Hz, string markers as comments
``fif`` (FIF)                      8-ch EEG at 250 Hz, annotations
=================================  ==========================================================

``generated.sources[key]`` holds the in-memory :class:`bci.Recording` that was written
(markers as written: codes where the format stores codes), so a test compares what a reader
returns with what went in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from bci import Marker, Recording, Signal, StreamSpec
from bci.config import SimulatedSourceConfig
from bci.devices import write_recording
from bci.devices.simulated import description, simulate

#: Simulated 10-10 sites standing in for the Muse electrodes (Right AUX is over POz).
MUSE_SITES = {"T7": "TP9", "AF3": "AF7", "AF4": "AF8", "T8": "TP10", "POz": "Right AUX"}
SSVEP_CODES = {"ssvep_30": 1, "ssvep_20": 2}
#: OpenBCI gesture set: code -> simulated gesture (0 rest of the armband is code 3).
EMG_GESTURES = {0: 1, 1: 7, 2: 3, 3: 0}


@dataclass
class Generated:
    """Where the generated recordings are and what was written into each."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    sources: dict[str, Recording] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Path:
        return self.files[key]


def _rename(sig: Signal, mapping: dict[str, str], keep: list[str]) -> Signal:
    idx = [sig.spec.ch_names.index(c) for c in keep]
    spec = StreamSpec(
        name=sig.spec.name,
        stype=sig.spec.stype,
        source_id=sig.spec.source_id,
        sfreq=sig.spec.sfreq,
        ch_names=tuple(mapping.get(c, c) for c in keep),
        ch_types=tuple(sig.spec.ch_types[k] for k in idx),
        units=tuple(sig.spec.units[k] for k in idx),
        dtype=sig.spec.dtype,
        manufacturer=sig.spec.manufacturer,
    )
    return Signal(spec, sig.data[idx], sig.timestamps)


def _resampled(sig: Signal, up: int, down: int, **spec_update: object) -> Signal:
    """Polyphase resampling (anti-aliased) to ``sfreq * up / down``."""
    data = resample_poly(sig.data.astype(np.float64), up, down, axis=1).astype(np.float32)
    sfreq = sig.spec.sfreq * up / down
    fields = {**sig.spec.__dict__, "sfreq": sfreq, **spec_update}
    return Signal(StreamSpec(**fields), data, sig.timestamps[0] + np.arange(data.shape[1]) / sfreq)


def _shifted(rec: Recording, t0: float) -> Recording:
    """The same recording on a clock that starts at ``t0`` (real files never start at 0)."""
    signals = [Signal(s.spec, s.data, s.timestamps + t0) for s in rec.signals]
    markers = [Marker(m.timestamp + t0, m.value, m.stream) for m in rec.markers]
    return Recording(rec.path, signals, markers)


def _flicker(label: str, freq: float, k: int) -> dict:
    return description("flicker", label, 3.0, k, frequency=freq, depth=1.0, phase=0.0)


def muse_ssvep(seed: int, duration: float = 100.0) -> Recording:
    """3-s 30/20 Hz SSVEP trials every 4 s, Muse channel names, 256 Hz, codes 1/2."""
    cfg = SimulatedSourceConfig(
        mode="eeg", sfreq=256.0, seed=seed, ch_names=(*MUSE_SITES, "O1", "Oz", "O2"), name="Muse"
    )
    rng = np.random.default_rng(seed)
    n = int((duration - 2) // 4)
    labels = rng.permutation(["ssvep_30", "ssvep_20"] * (n // 2))
    stimuli = [(1.0 + 4 * k, _flicker(lab, float(lab[-2:]), k)) for k, lab in enumerate(labels)]
    rec, _ = simulate(cfg, duration, stimuli)
    sig = _rename(rec.signals[0], MUSE_SITES, list(MUSE_SITES))
    markers = [Marker(m.timestamp, str(SSVEP_CODES[m.value]), "Muse-markers") for m in rec.markers]
    return _shifted(Recording(rec.path, [sig], markers), 1.5e9 + seed * 1e4)


def emg_gestures(
    seed: int, codes: dict[int, int], duration: float, hold: float, gap: float
) -> tuple[Signal, list[tuple[float, float, int]]]:
    """Simulated armband at 1000 Hz; trials ``(onset, end, code)`` cycling over ``codes``."""
    cfg = SimulatedSourceConfig(mode="emg", seed=seed, paradigm="none")
    trials, t, k = [], 1.0, 0
    order = list(codes)
    while t + hold <= duration - 0.5:
        trials.append((t, t + hold, order[k % len(order)]))
        t += hold + gap
        k += 1
    stimuli = [
        (on, description("cue", f"gesture_{codes[c]}", hold, j, gesture=codes[c]))
        for j, (on, _, c) in enumerate(trials)
    ]
    rec, _ = simulate(cfg, duration, stimuli)
    return rec.signals[0], trials


def openbci_emg_xdf(seed: int = 7) -> Recording:
    """OpenBCI Cyton forearm EMG as the OpenBCI GUI streams it: type EEG, 250 Hz, string
    markers ``<code>s``/``<code>e`` at the start and end of each gesture."""
    sig, trials = emg_gestures(seed, EMG_GESTURES, 60.0, hold=2.0, gap=1.0)
    sig = _resampled(
        sig, 1, 4, name="obci_eeg1", stype="EEG", source_id="openbci_eeg_id1",
        manufacturer="bci-runtime simulated participant (OpenBCI-style)",
    )  # fmt: skip
    sig.data = np.round(sig.data, 3)  # float32 samples as a board delivers them
    markers = []
    for on, end, code in trials:
        markers += [
            Marker(on, f"{code}s", "MyMarkerStream"),
            Marker(end, f"{code}e", "MyMarkerStream"),
        ]
    return _shifted(Recording("", [sig], markers), 4000.0)


def myo_txt(seed: int = 3) -> Recording:
    """Myo armband: 8-ch EMG at 200 Hz (integer samples), fist (7) / rest (0) labels."""
    sig, trials = emg_gestures(seed, {7: 7, 0: 0}, 40.0, hold=3.0, gap=0.0)
    sig = _resampled(sig, 1, 5, name="Myo", ch_names=tuple(f"emg{k}" for k in range(1, 9)))
    sig.data = np.clip(np.round(sig.data / np.abs(sig.data).max() * 100), -128, 127)
    sig.timestamps = np.arange(sig.data.shape[1]) / 200.0
    markers = [Marker(on, str(code), "Myo-labels") for on, _, code in trials]
    return Recording("", [sig], [Marker(0.0, "0", "Myo-labels"), *markers])


def eeg(seed: int, sfreq: float, n_channels: int, duration: float, paradigm: str) -> Recording:
    """Simulated EEG with the paradigm's own marker labels."""
    cfg = SimulatedSourceConfig(
        mode="eeg", sfreq=sfreq, n_channels=n_channels, seed=seed, paradigm=paradigm
    )
    return simulate(cfg, duration)[0]


def multistream_xdf(seed: int = 5) -> Recording:
    """EEG at 256 Hz, a 3-axis accelerometer at 52 Hz (other clock), an empty PPG stream."""
    rec = _shifted(eeg(seed, 256.0, 8, 20.0, "p300"), 2000.0)
    rng = np.random.default_rng(seed)
    n_acc = 20 * 52
    acc_t = 2000.013 + np.arange(n_acc) / 52.0
    acc = Signal(
        StreamSpec(
            "Muse-ACC", "ACC", "muse-acc", 52.0, ("X", "Y", "Z"), ("accelerometer",) * 3, ("g",) * 3
        ),  # fmt: skip
        (rng.standard_normal((3, n_acc)) * 0.01 + [[0.0], [0.0], [1.0]]).astype(np.float32),
        acc_t,
    )
    ppg = Signal(
        StreamSpec("Muse-PPG", "PPG", "muse-ppg", 64.0, ("PPG1", "PPG2", "PPG3")),
        np.zeros((3, 0), np.float32),
        np.zeros(0),
    )
    return Recording("", [rec.signals[0], acc, ppg], rec.markers)


def build(root: Path) -> Generated:
    """Simulate and write every generated recording under ``root``."""
    gen = Generated(root=root)

    def put(key: str, rec: Recording, rel: str, **kwargs: object) -> None:
        path = write_recording(rec, root / rel, **kwargs)
        gen.files[key] = path
        gen.sources[key] = rec

    put("muse-ssvep", muse_ssvep(1), "muse-ssvep/subject1/session1/data_sim_1.csv")
    put("muse-ssvep-2", muse_ssvep(2), "muse-ssvep/subject1/session1/data_sim_2.csv")
    put("myo", myo_txt(), "myo-wrist-gestures/12345-1/7.txt")
    put("xdf-emg", openbci_emg_xdf(), "xdf-openbci-emg-gestures/sim_gestures.xdf")
    put("xdf-multi", multistream_xdf(), "xdf-multistream/sub-sim_task-p300_eeg.xdf")
    edf = eeg(11, 320.0, 16, 30.0, "ssvep")
    edf.signals[0] = _resampled(edf.signals[0], 1, 2, name="sim-edf")
    put("edf", edf, "edf/sim_ssvep.edf")
    bdf = eeg(12, 256.0, 8, 20.0, "p300")
    codes = {"nontarget": 1, "target": 2}
    put("bdf", bdf, "bdf/sim_p300.bdf", codes=codes)
    gen.sources["bdf"] = Recording(
        bdf.path, bdf.signals, [Marker(m.timestamp, str(codes[m.value])) for m in bdf.markers]
    )
    put("vhdr", eeg(13, 500.0, 8, 20.0, "n170"), "brainvision/sim_n170.vhdr")
    put("fif", eeg(14, 250.0, 8, 20.0, "ssvep"), "fif/sim_ssvep_raw.fif")
    return gen
