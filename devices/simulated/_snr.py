"""SSVEP signal-to-noise ratio, measured the same way on real and simulated recordings.

``ssvep_snr`` = amplitude spectrum at the stimulus frequency divided by the mean amplitude
of the 10 neighbouring bins (5 on each side, skipping the adjacent bin on each side), from
a Welch spectrum (2 s Hann segments, 50 % overlap, linear detrend) of 0.5-3 s after each
onset. Used in ``tests/simulated`` to compare the simulated participant with the Muse SSVEP
recordings of NeuroTechX eeg-notebooks (POz, 20 and 30 Hz pattern reversal).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch


def ssvep_snr(
    x: np.ndarray,
    sfreq: float,
    onsets: np.ndarray,
    freq: float,
    tmin: float = 0.5,
    tmax: float = 3.0,
) -> np.ndarray:
    """Per-trial amplitude SNR at ``freq`` of the 1-D signal ``x``.

    Parameters
    ----------
    x : ndarray, shape (n_times,)
        One channel (microvolts).
    sfreq : float
    onsets : array of int
        Sample index of each stimulus onset.
    freq : float
        Frequency to measure (Hz).
    tmin, tmax : float
        Analysis window after onset (s).

    Returns
    -------
    ndarray, shape (n_trials,)
        SNR per trial (1 = no response); trials running past the end are skipped.
    """
    a, b = int(tmin * sfreq), int(tmax * sfreq)
    nper = int(2 * sfreq)
    out = []
    for i in np.asarray(onsets, dtype=int):
        seg = x[i + a : i + b]
        if seg.size < b - a:
            continue
        fr, p = welch(seg, sfreq, nperseg=min(nper, seg.size), detrend="linear")
        amp = np.sqrt(p)
        k = int(np.argmin(np.abs(fr - freq)))
        neigh = np.r_[amp[max(k - 6, 0) : k - 1], amp[k + 2 : k + 7]]
        out.append(amp[k] / neigh.mean())
    return np.array(out)
