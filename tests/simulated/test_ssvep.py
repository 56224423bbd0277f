"""SSVEP acceptance and determinism with the offline API."""

from __future__ import annotations

import numpy as np
import pytest
from _classic import fbcca

from bci.config import SimulatedSourceConfig
from bci.devices.simulated import (
    DEFAULT_EEG_MONTAGE,
    SSVEP_FREQUENCIES,
    Participant,
    paradigm_schedule,
    simulate,
    ssvep_snr,
)

FREQS = list(SSVEP_FREQUENCIES)


def _epochs(rec, onsets, n=500):
    x = rec.signals[0].data.astype(float)
    sf = rec.signals[0].spec.sfreq
    idx = [int(round(o * sf)) for o in onsets]
    return np.stack([x[:, i : i + n] for i in idx if i + n <= x.shape[1]])


def test_default_recording_shape():
    rec, truth = simulate(SimulatedSourceConfig(), 10.0)
    sig = rec.signals[0]
    assert sig.spec.ch_names == DEFAULT_EEG_MONTAGE
    assert sig.spec.sfreq == 250.0
    assert sig.data.shape == (16, 2500)
    assert sig.data.dtype == np.float32
    np.testing.assert_allclose(np.diff(sig.timestamps), 1 / 250)
    assert [m.value for m in rec.markers] == [t["label"] for t in truth]
    assert rec.markers[0].value.startswith("ssvep_") and rec.markers[1].value == "rest"
    # Realistic scale: tens of microvolts, not volts, not zeros.
    assert 5.0 < float(np.median(sig.data.std(axis=1))) < 100.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fbcca_above_90_percent_on_2s_windows(seed):
    cfg = SimulatedSourceConfig(seed=seed)
    rec, truth = simulate(cfg, 240.0)
    trials = [t for t in truth if t.get("frequency")]
    ep = _epochs(rec, [t["onset"] for t in trials])
    y = np.array([FREQS.index(t["frequency"]) for t in trials])[: len(ep)]
    acc = float((fbcca(ep, 250.0, FREQS) == y).mean())
    assert len(ep) >= 75
    assert acc >= 0.9, f"seed {seed}: FBCCA accuracy {acc:.2f} < 0.90"


def test_chance_when_nothing_is_shown():
    cfg = SimulatedSourceConfig(seed=0)
    schedule = paradigm_schedule("ssvep", 240.0, seed=0)
    trials = [(o, d) for o, d in schedule if d["kind"] == "flicker"]
    rec, truth = simulate(cfg, 240.0, [])  # the schedule runs, the screen stays blank
    assert truth == []
    ep = _epochs(rec, [o for o, _ in trials])
    y = np.array([FREQS.index(d["frequency"]) for _, d in trials])[: len(ep)]
    acc = float((fbcca(ep, 250.0, FREQS) == y).mean())
    # 80 trials, 4 classes: chance 0.25; 0.42 is beyond p < 0.001 (binomial).
    assert acc < 0.42, f"accuracy {acc:.2f} without any stimulus"


def test_snr_in_range_of_muse_recordings():
    """20/30 Hz flicker at POz gives an SNR in the range measured on muse-ssvep (3.9-5.5)."""
    from bci.devices.simulated import description

    rng = np.random.default_rng(3)
    stim, t = [], 1.0
    while t < 175.0:
        f = float(rng.choice([20.0, 30.0]))
        stim.append(
            (t, description("flicker", f"ssvep_{f}", 3.0, frequency=f, depth=1.0, phase=0.0))
        )
        t += 3.6
    rec, _ = simulate(SimulatedSourceConfig(seed=0, artifacts=1.0), 180.0, stim)
    poz = rec.signals[0].data[DEFAULT_EEG_MONTAGE.index("POz")].astype(float)
    for f in (20.0, 30.0):
        on = np.array([round(o * 250) for o, d in stim if d["frequency"] == f])
        snr = float(np.median(ssvep_snr(poz, 250.0, on, f)))
        ctrl = float(np.median(ssvep_snr(poz, 250.0, on, 50.0 - f if f == 30.0 else 30.0)))
        assert 2.5 < snr < 8.0, f"{f} Hz SNR {snr:.2f}"
        assert ctrl < 1.6, f"{f} Hz: control frequency SNR {ctrl:.2f}"


def test_same_seed_identical_different_seeds_differ():
    a, ta = simulate(SimulatedSourceConfig(seed=7), 20.0)
    b, tb = simulate(SimulatedSourceConfig(seed=7), 20.0)
    c, _ = simulate(SimulatedSourceConfig(seed=8), 20.0)
    np.testing.assert_array_equal(a.signals[0].data, b.signals[0].data)
    assert ta == tb
    assert not np.allclose(a.signals[0].data, c.signals[0].data)
    pa, pc = Participant.from_seed(7), Participant.from_seed(8)
    assert pa.iaf != pc.iaf and pa.ssvep_latency != pc.ssvep_latency
    assert pa.ssvep_gain(12.0) != pc.ssvep_gain(12.0)


def test_samples_do_not_depend_on_stimulus_times_for_background():
    """The background stream is drawn block-wise: adding a stimulus changes only its response."""
    cfg = SimulatedSourceConfig(seed=3, artifacts=0.0)
    a, _ = simulate(cfg, 4.0, [])
    b, _ = simulate(cfg, 4.0, [(3.0, "target")])
    np.testing.assert_array_equal(a.signals[0].data[:, :750], b.signals[0].data[:, :750])
    assert not np.allclose(a.signals[0].data[:, 775:], b.signals[0].data[:, 775:])


def test_montage_and_rate_options():
    rec, _ = simulate(SimulatedSourceConfig(n_channels=8, sfreq=500.0), 2.0, [])
    assert rec.signals[0].spec.ch_names == ("Fp1", "Fp2", "Cz", "Pz", "POz", "O1", "Oz", "O2")
    assert rec.signals[0].data.shape == (8, 1000)
    rec, _ = simulate(SimulatedSourceConfig(n_channels=32), 1.0, [])
    assert len(set(rec.signals[0].spec.ch_names)) == 32
    with pytest.raises(ValueError, match="channels"):
        SimulatedSourceConfig(n_channels=4)
    with pytest.raises(ValueError, match="sfreq"):
        SimulatedSourceConfig(sfreq=2000.0)


def test_eyes_closed_raises_alpha():
    from scipy.signal import welch

    cfg = SimulatedSourceConfig(seed=2, artifacts=0.0)
    rec, _ = simulate(cfg, 40.0, [(20.0, "eyes_closed")])
    x = rec.signals[0].data[DEFAULT_EEG_MONTAGE.index("O1")].astype(float)
    p = Participant.from_seed(2)

    def alpha(seg):
        f, pxx = welch(seg, 250.0, nperseg=500)
        return pxx[(f >= p.iaf - 1) & (f <= p.iaf + 1)].mean()

    ratio = alpha(x[int(22 * 250) :]) / alpha(x[: int(20 * 250)])
    assert ratio > 2.0, f"eyes closed / open alpha power {ratio:.2f}"
