"""EMG armband acceptance: RMS + LDA >= 90 % on 8 gestures; fatigue."""

from __future__ import annotations

import numpy as np
from scipy import signal
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import cross_val_score

from bci.config import SimulatedSourceConfig
from bci.devices.simulated import GESTURES, description, simulate


def _log_rms(rec, truth, start=0.5, length=2.0):
    sig = rec.signals[0]
    fs = sig.spec.sfreq
    sos = signal.butter(4, [20.0, 450.0], "bandpass", fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, sig.data.astype(float), axis=1)
    feats, labels = [], []
    for t in truth:
        i = int((t["onset"] + start) * fs)
        seg = x[:, i : i + int(length * fs)]
        if seg.shape[1] == int(length * fs):
            feats.append(np.log(np.sqrt((seg**2).mean(axis=1))))
            labels.append(t["gesture"])
    return np.array(feats), np.array(labels)


def test_emg_rms_lda_8_gestures():
    cfg = SimulatedSourceConfig(mode="emg", seed=0)
    rec, truth = simulate(cfg, 400.0)
    spec = rec.signals[0].spec
    assert spec.stype == "EMG" and spec.sfreq == 1000.0 and spec.n_channels == 8
    X, y = _log_rms(rec, truth)
    assert sorted(set(y)) == list(range(len(GESTURES))) and len(y) >= 72
    acc = cross_val_score(
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), X, y, cv=5
    ).mean()
    assert acc >= 0.9, f"RMS+LDA accuracy {acc:.3f}"
    # Rest is quiet, a gesture is not.
    assert X[y == 0].mean() < X[y == 7].mean() - 1.0


def test_emg_fatigue_lowers_median_frequency():
    cfg = SimulatedSourceConfig(mode="emg", seed=1, n_channels=16, sfreq=2000.0)
    stim = [(1.0 + 6 * i, description("cue", "gesture_7", 5.0, i, gesture=7)) for i in range(40)]
    rec, truth = simulate(cfg, 241.0, stim)
    x = rec.signals[0].data.astype(float)
    assert x.shape[0] == 16

    def median_freq(i):
        o = int((truth[i]["onset"] + 1.0) * 2000)
        f, p = signal.welch(x[:, o : o + 6000], 2000.0, nperseg=1024, axis=1)
        c = np.cumsum(p.mean(axis=0))
        return f[np.searchsorted(c, c[-1] / 2)]

    assert truth[-1]["fatigue"] > truth[0]["fatigue"]
    assert median_freq(39) < median_freq(0) - 10.0
