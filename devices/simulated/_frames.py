"""Responses to what the presenter actually drew: the per-flip frame log.

A presenter that publishes a frame log (one sample per flip, timestamp = flip time, one
channel per target with the intensity drawn on that flip) lets the participant respond to
the drawn frames instead of the declared stimulus:

- **SSVEP**: every target's intensity, held from one flip to the next, is seen through
  the participant's visual transfer function (high-pass 3 Hz, order-2 low-pass at the
  participant's ``ssvep_fc``, delayed by ``ssvep_latency``), weighted by attention (the
  attended target 1, the others ``unattended``), with a squared term for the second
  harmonic (at the participant's relative amplitude), scaled by ``snr * ssvep_amp / 0.4``
  (a depth-0.8 flicker at 10 Hz gives about ``ssvep_amp`` uV, as a described flicker does)
  and a lognormal trial factor, on the occipital SSVEP topography. A presenter that draws 9 Hz where 10 Hz was configured
  therefore evokes 9 Hz.
- **Flashes**: a jump of at least ``FLASH_STEP`` in one flip after ``FLASH_REFRACTORY`` s
  without any rise is a flash onset: a VEP, plus a P300 when it is the attended target
  (a small one otherwise), through the EEG engine's ERP model.

Attention is set by the presenter's descriptions (``"attend": label``); the participant
attends the cued target, and that is its ground truth.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: Smallest one-flip intensity rise that counts as a flash onset.
FLASH_STEP = 0.5
#: Seconds without any rise before a big rise counts as a new flash.
FLASH_REFRACTORY = 0.12


class FrameResponse:
    """Render the EEG response to a frame log, sample-accurately, chunk by chunk.

    Parameters
    ----------
    engine : EngineEEG
        The participant's EEG engine (topographies, ERP model, participant parameters).
    t0 : float
        LSL time of sample 0.
    unattended : float
        SSVEP weight of the targets not attended (peripheral vision).
    """

    def __init__(self, engine, t0: float, unattended: float = 0.15) -> None:
        self.engine = engine
        self.p = engine.p
        self.fs = engine.sfreq
        self.t0 = float(t0)
        self.unattended = float(unattended)
        self.latency = float(self.p.ssvep_latency)
        self.names: tuple[str, ...] = ()
        self.t = np.zeros(0)
        self.x = np.zeros((0, 0))
        self.baseline: np.ndarray | None = None
        self.attention: list[tuple[float, str | None, float]] = [(-np.inf, None, 1.0)]
        hp = signal.butter(1, 3.0, "highpass", fs=self.fs, output="sos")
        lp = signal.butter(2, min(self.p.ssvep_fc, 0.45 * self.fs), fs=self.fs, output="sos")
        self.sos = np.vstack([hp, lp])
        self.zi = np.zeros((self.sos.shape[0], 2))
        self.gain = float(engine.snr * self.p.ssvep_amp / 0.4)
        self.h2 = 2.0 * float(self.p.ssvep_harmonics[0]) / 0.4
        self.topo = engine.ssvep_topo[:, 0]
        self._last_rise = np.zeros(0)
        self._prev: np.ndarray | None = None
        self.flashes: list[dict] = []

    # ------------------------------------------------------------------ input
    def set_names(self, names: tuple[str, ...]) -> None:
        """The targets, in the frame log's channel order (after ``frame``)."""
        self.names = tuple(names)

    def attend(self, t: float, label: str | None) -> None:
        """From LSL time ``t`` on, the participant attends ``label`` (``None``: nothing)."""
        factor = float(self.engine.rng.lognormal(0.0, 0.15))
        self.attention.append((float(t), label, factor))
        self.attention = self.attention[-64:]

    def _attended_at(self, t: float) -> tuple[str | None, float]:
        label, factor = None, 1.0
        for ta, lab, f in self.attention:
            if ta <= t:
                label, factor = lab, f
        return label, factor

    def add(self, stamps: np.ndarray, levels: np.ndarray) -> list[dict]:
        """Add flips (``stamps`` LSL times, ``levels`` (n_flips, n_targets)); detect flashes.

        Returns
        -------
        list of dict
            Ground truth of the flash onsets found (the ERPs are already scheduled).
        """
        stamps = np.asarray(stamps, float)
        levels = np.asarray(levels, float).reshape(len(stamps), -1)
        if not len(stamps):
            return []
        if self.baseline is None:
            self.baseline = levels[0].copy()
            self._prev = levels[0].copy()
            self._last_rise = np.full(levels.shape[1], -np.inf)
        truth = []
        for ts, lv in zip(stamps, levels, strict=True):
            rise = lv - self._prev
            for j in np.flatnonzero(rise >= FLASH_STEP):
                if ts - self._last_rise[j] >= FLASH_REFRACTORY:
                    truth.append(self._flash(float(ts), int(j)))
            self._last_rise = np.where(rise > 1e-9, ts, self._last_rise)
            self._prev = lv
        self.t = np.r_[self.t, stamps]
        self.x = np.vstack([self.x, levels]) if self.x.size else levels
        return truth

    def _flash(self, ts: float, j: int) -> dict:
        name = self.names[j] if j < len(self.names) else str(j)
        attended, _ = self._attended_at(ts)
        target = attended == name
        vep = 1.0 if target else 0.6
        out = self.engine._erp(ts - self.t0, vep, target, "flash")
        truth = {"kind": "flash", "label": name, "target": target, "onset": ts, **out}
        self.flashes.append(truth)
        return truth

    # ------------------------------------------------------------------ output
    def render(self, i0: int, n: int) -> np.ndarray | None:
        """SSVEP response on samples ``i0 .. i0+n-1`` (``None`` before the first flip)."""
        if self.baseline is None or not self.t.size:
            return None
        ts = self.t0 + (i0 + np.arange(n)) / self.fs - self.latency
        idx = np.searchsorted(self.t, ts, side="right") - 1
        seen = np.where(idx[:, None] >= 0, self.x[np.maximum(idx, 0)], self.baseline[None, :])
        drive = seen - self.baseline[None, :]  # (n, n_targets)
        w = np.full(drive.shape, self.unattended)
        gain = np.ones(n)
        for k, t in enumerate(ts):  # attention, cheap: a few switches per trial
            label, factor = self._attended_at(t)
            gain[k] = factor
            if label in self.names:
                w[k, self.names.index(label)] = 1.0
        s = (drive * w).sum(axis=1) * gain
        # the contrast response is not linear: a squared term gives the second harmonic at
        # the participant's relative amplitude (for a depth-0.8 flicker)
        s = s + self.h2 * s * s
        y, self.zi = signal.sosfilt(self.sos, s, zi=self.zi)
        # forget flips that can no longer be seen (keep the one in force)
        keep = max(0, int(np.searchsorted(self.t, ts[0] - 1.0)) - 1)
        if keep:
            self.t, self.x = self.t[keep:], self.x[keep:]
        return np.outer(self.topo, self.gain * y)
