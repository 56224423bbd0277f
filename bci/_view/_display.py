"""Display processing for the live view: causal filters, decimation, bounded trace rings.

Pure classes, no transport: :class:`DisplayFilter` (band-pass + notch with kept state),
:class:`Decimator` (block means, the remainder carried to the next chunk) and
:class:`TraceRing` (a preallocated ring of display samples with a running sample counter,
so each page client reads "everything after sample k" and a slow one skips ahead instead of
growing a backlog).
"""

from __future__ import annotations

import math
import threading

import numpy as np

#: Display rate the server aims for (samples/s/channel after decimation).
DISPLAY_RATE = 125.0


def decimation_factor(sfreq: float, target: float = DISPLAY_RATE) -> int:
    """Integer factor that brings ``sfreq`` down to at most ``target`` (at least 1)."""
    return max(1, math.ceil(sfreq / target - 1e-9))


class DisplayFilter:
    """Causal band-pass and notch per channel, state kept between chunks.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    n_channels : int
        Number of channels.
    bandpass : tuple of float | None
        Band edges in Hz (Butterworth order 4); the upper edge is capped below Nyquist.
    notch : float | None
        Line frequency to notch (Q = 30), skipped when not below Nyquist.
    """

    def __init__(
        self,
        sfreq: float,
        n_channels: int,
        bandpass: tuple[float, float] | None = (1.0, 40.0),
        notch: float | None = 50.0,
    ) -> None:
        from scipy import signal

        sos = []
        nyq = sfreq / 2
        if bandpass is not None:
            lo, hi = bandpass
            hi = min(hi, 0.45 * sfreq)
            if 0 < lo < hi:
                sos.append(signal.butter(4, (lo, hi), btype="bandpass", fs=sfreq, output="sos"))
        if notch and notch < nyq:
            b, a = signal.iirnotch(notch, 30.0, fs=sfreq)
            sos.append(signal.tf2sos(b, a))
        self.sos = np.concatenate(sos) if sos else None
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        """Forget the filter state (after a gap)."""
        self._zi = None if self.sos is None else np.zeros((self.sos.shape[0], self.n_channels, 2))
        self._primed = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (``(n_channels, n_times)``); the first chunk after a reset sets the DC."""
        from scipy import signal

        if self.sos is None:
            return np.asarray(x, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if not self._primed and x.shape[1]:
            # start from the steady state of the first sample: no step transient on screen
            zi0 = signal.sosfilt_zi(self.sos)  # (n_sections, 2)
            self._zi = zi0[:, None, :] * x[:, 0][None, :, None]
            self._primed = True
        y, self._zi = signal.sosfilt(self.sos, x, axis=-1, zi=self._zi)
        return y


class Decimator:
    """Block means of ``factor`` samples; a partial block waits for the next chunk.

    Parameters
    ----------
    factor : int
        Samples per output sample.
    n_channels : int
        Number of channels.
    """

    def __init__(self, factor: int, n_channels: int) -> None:
        self.factor = int(factor)
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        """Drop the partial block."""
        self._x = np.empty((self.n_channels, 0))
        self._t = np.empty(0)

    def __call__(self, x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(means, timestamps of each block's last sample)`` for the complete blocks."""
        if self.factor == 1:
            return np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
        x = np.concatenate([self._x, x], axis=1) if self._x.shape[1] else np.asarray(x, float)
        t = np.concatenate([self._t, t]) if self._t.size else np.asarray(t, float)
        n = (t.size // self.factor) * self.factor
        self._x, self._t = x[:, n:], t[n:]
        if n == 0:
            return np.empty((self.n_channels, 0)), np.empty(0)
        xm = x[:, :n].reshape(self.n_channels, -1, self.factor).mean(axis=2)
        return xm, t[self.factor - 1 : n : self.factor]


class TraceRing:
    """Preallocated ring of display samples with a global sample counter.

    A ``NaN`` column marks a gap (the page draws a break there). Reads are by counter:
    :meth:`since` returns the samples after ``k`` and the new counter, capped at ``limit``
    samples (older ones are skipped, never queued).

    Parameters
    ----------
    n_channels : int
        Number of channels.
    capacity : int
        Display samples kept.
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        self.capacity = int(capacity)
        self._x = np.full((n_channels, self.capacity), np.nan, np.float32)
        self._t = np.full(self.capacity, np.nan)
        self.count = 0  # samples ever written
        self._lock = threading.Lock()

    def write(self, x: np.ndarray, t: np.ndarray) -> None:
        """Append ``(n_channels, n)`` samples with their timestamps."""
        n = t.size
        if n == 0:
            return
        if n > self.capacity:
            x, t, n = x[:, -self.capacity :], t[-self.capacity :], self.capacity
        with self._lock:
            i = self.count % self.capacity
            first = min(n, self.capacity - i)
            self._x[:, i : i + first] = x[:, :first]
            self._t[i : i + first] = t[:first]
            if first < n:
                self._x[:, : n - first] = x[:, first:]
                self._t[: n - first] = t[first:]
            self.count += n

    def gap(self, t: float) -> None:
        """Mark a break in the trace at time ``t``."""
        self.write(np.full((self._x.shape[0], 1), np.nan, np.float32), np.array([t]))

    def since(self, k: int, limit: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Samples written after counter ``k`` (at most ``limit``, the newest).

        Returns
        -------
        x, t, count, skipped
            Data ``(n_channels, m)``, timestamps, the new counter, and how many samples
            were skipped because the reader was too far behind.
        """
        with self._lock:
            count = self.count
            start = max(k, count - min(limit, self.capacity), 0)
            skipped = max(0, start - k)
            idx = np.arange(start, count) % self.capacity
            return self._x[:, idx].copy(), self._t[idx].copy(), count, skipped


__all__ = ["DISPLAY_RATE", "Decimator", "DisplayFilter", "TraceRing", "decimation_factor"]
