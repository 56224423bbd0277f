"""Classical reference decoders used to check the simulated participant (test helpers)."""

from __future__ import annotations

import numpy as np
from scipy import signal


def _refs(freq: float, n_times: int, sfreq: float, n_harmonics: int) -> np.ndarray:
    t = np.arange(n_times) / sfreq
    return np.vstack(
        [g(2 * np.pi * h * freq * t) for h in range(1, n_harmonics + 1) for g in (np.sin, np.cos)]
    )


def _cca_r(x: np.ndarray, y: np.ndarray) -> float:
    qx, _ = np.linalg.qr((x - x.mean(1, keepdims=True)).T)
    qy, _ = np.linalg.qr((y - y.mean(1, keepdims=True)).T)
    return float(np.linalg.svd(qx.T @ qy, compute_uv=False)[0])


def fbcca(
    epochs: np.ndarray, sfreq: float, freqs: list[float], n_bands: int = 5, n_harmonics: int = 3
) -> np.ndarray:
    """Filter-bank CCA (Chen et al. 2015): predicted frequency index per epoch.

    Sub-band ``m`` (1-based) is ``[6 + 8 (m - 1), min(88, 0.45 sfreq)]`` Hz, weights
    ``m^-1.25 + 0.25``; score = sum of weighted squared canonical correlations.
    """
    hi = min(88.0, 0.45 * sfreq)
    refs = [_refs(f, epochs.shape[-1], sfreq, n_harmonics) for f in freqs]
    scores = np.zeros((len(epochs), len(freqs)))
    for m in range(1, n_bands + 1):
        lo = 6.0 + 8.0 * (m - 1)
        if lo >= hi - 4:
            break
        sos = signal.butter(4, [lo, hi], "bandpass", fs=sfreq, output="sos")
        sub = signal.sosfiltfilt(sos, epochs, axis=-1)
        w = m**-1.25 + 0.25
        for i, ep in enumerate(sub):
            scores[i] += w * np.array([_cca_r(ep, r) ** 2 for r in refs])
    return scores.argmax(axis=1)
