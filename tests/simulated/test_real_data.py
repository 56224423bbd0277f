"""Compare the simulated SSVEP SNR with the real Muse SSVEP recordings (../shared/data)."""

from __future__ import annotations

import numpy as np
import pytest

from bci.config import SimulatedSourceConfig
from bci.devices.simulated import DEFAULT_EEG_MONTAGE, description, simulate, ssvep_snr


def _muse_snr(shared_data):
    pd = pytest.importorskip("pandas")
    files = sorted((shared_data / "muse-ssvep" / "subject1" / "session1").glob("*.csv"))
    if not files:
        pytest.skip("muse-ssvep not found")
    snr = {20.0: [], 30.0: []}
    for fn in files:
        d = pd.read_csv(fn)
        x = d["Right AUX"].to_numpy(float)  # POz electrode
        x = x - np.convolve(x, np.ones(256) / 256, "same")
        m = d["Marker0"].to_numpy()
        for code, f in ((1, 30.0), (2, 20.0)):
            snr[f].extend(ssvep_snr(x, 256.0, np.flatnonzero(m == code), f))
    return {f: float(np.median(v)) for f, v in snr.items()}


def test_simulated_ssvep_snr_matches_muse(shared_data):
    real = _muse_snr(shared_data)
    # Measured on subject1 (192 trials): 20 Hz ~5.5, 30 Hz ~3.9.
    assert 4.5 < real[20.0] < 6.5 and 3.0 < real[30.0] < 5.0
    rng = np.random.default_rng(3)
    stim, t = [], 1.0
    while t < 175.0:
        f = float(rng.choice([20.0, 30.0]))
        stim.append(
            (t, description("flicker", f"ssvep_{f}", 3.0, frequency=f, depth=1.0, phase=0.0))
        )
        t += 3.6
    for seed in (0, 1, 2):
        rec, _ = simulate(SimulatedSourceConfig(seed=seed), 180.0, stim)
        poz = rec.signals[0].data[DEFAULT_EEG_MONTAGE.index("POz")].astype(float)
        for f in (20.0, 30.0):
            on = np.array([round(o * 250) for o, d in stim if d["frequency"] == f])
            sim = float(np.median(ssvep_snr(poz, 250.0, on, f)))
            assert real[f] / 2 < sim < real[f] * 2, (
                f"seed {seed}, {f} Hz: sim {sim:.2f} vs Muse {real[f]:.2f}"
            )
