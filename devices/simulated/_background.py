"""Background EEG, generated in fixed blocks so the samples never depend on chunking.

Components (all in microvolts):

- 1/f^beta activity mixed across channels with a distance-based (volume conduction)
  covariance, see :func:`._montage.spatial_mixing`;
- alpha: two narrow-band occipito-parietal sources at the individual alpha frequency with a
  slowly waxing/waning envelope; returned separately so the engine can scale it with the eyes
  state (x2-4 eyes closed) and block it during visual stimulation;
- slow electrode drift (< 0.2 Hz random walk, independent per channel);
- white sensor noise;
- transients drawn as Poisson events: blinks (frontal, 80-180 uV), horizontal saccades
  (opposite-sign steps left/right frontal-temporal), muscle bursts (20-100 Hz noise on
  temporal channels), electrode pops (step + exponential decay on one channel).

Line noise (50 Hz and harmonics) is computed analytically by the engine from the sample
index, so its phase is continuous across blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ._montage import spatial_mixing, topography
from ._participant import Participant


@dataclass
class Transient:
    """An additive event: ``data`` (n_channels, n_times) starting at sample ``start``."""

    start: int
    data: np.ndarray
    kind: str = ""

    @property
    def stop(self) -> int:
        """First sample after the event."""
        return self.start + self.data.shape[1]


def powerlaw_sos(sfreq: float, beta: float, f_lo: float = 0.3) -> np.ndarray:
    """SOS filter whose power response falls as ``1/f**beta`` between ``f_lo`` and ``sfreq/2``.

    Interleaved real poles and zeros, one pole per half decade, each zero placed
    ``beta/2`` of the way to the next pole; the response is normalised to 1 at 10 Hz.
    """
    nyq = sfreq / 2
    step = 10**0.5
    poles = []
    f = f_lo
    while f < nyq * 1.5:
        poles.append(-2 * np.pi * f)
        f *= step
    zeros = [p * step ** (beta / 2) for p in poles]
    z, p, k = signal.bilinear_zpk(np.array(zeros), np.array(poles), 1.0, sfreq)
    sos = signal.zpk2sos(z, p, k)
    _, h = signal.sosfreqz(sos, worN=[10.0], fs=sfreq)
    sos[0, :3] /= abs(h[0])
    return sos


class BackgroundEEG:
    """Block generator of background EEG for one participant.

    Parameters
    ----------
    participant : Participant
    ch_names : tuple of str
    sfreq : float
    rng : numpy.random.Generator
        Background randomness (its own stream, so stimuli never change the background).
    block : int
        Block length in samples.
    artifacts : float
        Scale of the artifact rates (0 disables blinks, saccades, muscle bursts and pops).
    """

    def __init__(
        self,
        participant: Participant,
        ch_names: tuple[str, ...],
        sfreq: float,
        rng: np.random.Generator,
        block: int,
        artifacts: float = 1.0,
    ) -> None:
        self.p = participant
        self.ch_names = ch_names
        self.sfreq = float(sfreq)
        self.rng = rng
        self.block = int(block)
        self.artifacts = float(artifacts)
        n = len(ch_names)
        self.n_channels = n
        self.mix = spatial_mixing(ch_names)
        self.sos_pink = powerlaw_sos(sfreq, participant.bg_beta)
        self.zi_pink = np.zeros((self.sos_pink.shape[0], n, 2))
        # Spectral density at 10 Hz of the pink part, uV/sqrt(Hz): ~1.2 (scaled per participant).
        self.pink_scale = 1.2 * participant.bg_amp * np.sqrt(sfreq / 2)
        bw = 1.6
        self.sos_alpha = signal.butter(
            2, [participant.iaf - bw, participant.iaf + bw], "bandpass", fs=sfreq, output="sos"
        )
        self.zi_alpha = np.zeros((self.sos_alpha.shape[0], 2, 2))
        self.sos_env = signal.butter(1, 0.3, fs=sfreq, output="sos")
        self.zi_env = np.zeros((self.sos_env.shape[0], 2, 2))
        left = topography(ch_names, (-0.35, -0.8), 0.45)
        right = topography(ch_names, (0.35, -0.8), 0.45)
        self.alpha_topo = np.column_stack([left, right])  # (n, 2)
        # Band-pass white noise has density 1/sqrt(bandwidth); scale to the target density.
        self.alpha_scale = participant.alpha_amp * np.sqrt(sfreq / 2) / np.sqrt(2 * bw) * 1.2
        self.sos_drift = signal.butter(1, 0.05, fs=sfreq, output="sos")
        self.zi_drift = np.zeros((1, n, 2))
        self.drift_scale = (
            participant.drift_amp * np.sqrt(sfreq / 2) / np.sqrt(0.05 * np.pi / 2) / 10
        )
        self.sensor = 0.5 * np.sqrt(sfreq / 250.0)
        self.frontal = topography(ch_names, (0.0, 1.0), 0.35)
        self.h_eog = np.array(
            [np.sign(-x) * np.exp(-((y - 0.6) ** 2) / 0.3) for x, y in _xy(ch_names)]
        ) * np.abs(np.array([x for x, _ in _xy(ch_names)]))
        self.temporal = [
            topography(ch_names, (-1.0, 0.0), 0.3),
            topography(ch_names, (1.0, 0.0), 0.3),
        ]
        self.sos_muscle = signal.butter(
            4, [20.0, min(120.0, 0.45 * sfreq)], "bandpass", fs=sfreq, output="sos"
        )
        self.index = 0  # next sample to generate

    def next_block(self) -> tuple[np.ndarray, np.ndarray, list[Transient]]:
        """Generate the next block.

        Returns
        -------
        base : ndarray (n_channels, block)
            1/f + drift + sensor noise.
        alpha : ndarray (n_channels, block)
            Alpha at eyes-open amplitude (the engine applies the state gain).
        transients : list of Transient
            Artifacts starting in this block (they may extend past it).
        """
        n, b, rng = self.n_channels, self.block, self.rng
        white = rng.standard_normal((n, b))
        pink, self.zi_pink = signal.sosfilt(self.sos_pink, white, axis=1, zi=self.zi_pink)
        base = (self.mix @ pink) * self.pink_scale
        drift, self.zi_drift = signal.sosfilt(
            self.sos_drift, rng.standard_normal((n, b)), axis=1, zi=self.zi_drift
        )
        base += drift * self.drift_scale
        base += rng.standard_normal((n, b)) * self.sensor
        a, self.zi_alpha = signal.sosfilt(
            self.sos_alpha, rng.standard_normal((2, b)), axis=1, zi=self.zi_alpha
        )
        env, self.zi_env = signal.sosfilt(
            self.sos_env, rng.standard_normal((2, b)), axis=1, zi=self.zi_env
        )
        env = np.clip(1.0 + 6.0 * env, 0.15, None)
        alpha = self.alpha_topo @ (a * env) * self.alpha_scale
        transients = self._artifacts(self.index, b) if self.artifacts > 0 else []
        self.index += b
        return base, alpha, transients

    def _artifacts(self, start: int, b: int) -> list[Transient]:
        p, rng, fs = self.p, self.rng, self.sfreq
        dur = b / fs
        out: list[Transient] = []
        for _ in range(rng.poisson(p.blink_rate * dur * self.artifacts)):
            t0 = start + int(rng.integers(b))
            length = rng.uniform(0.2, 0.4)
            t = np.arange(int(length * fs)) / fs
            shape = np.sin(np.pi * t / length) ** 2 * np.exp(-t / length)
            amp = p.blink_amp * rng.uniform(0.7, 1.2)
            out.append(Transient(t0, np.outer(self.frontal, shape / shape.max() * amp), "blink"))
        for _ in range(rng.poisson(p.saccade_rate * dur * self.artifacts)):
            t0 = start + int(rng.integers(b))
            hold = rng.uniform(0.3, 1.0)
            t = np.arange(int((hold + 0.1) * fs)) / fs
            step = np.clip(t / 0.03, 0, 1) * np.clip((hold + 0.05 - t) / 0.03, 0, 1)
            amp = rng.uniform(10.0, 30.0) * rng.choice([-1.0, 1.0])
            out.append(Transient(t0, np.outer(self.h_eog, step * amp), "saccade"))
        for _ in range(rng.poisson(p.muscle_rate * dur * self.artifacts)):
            t0 = start + int(rng.integers(b))
            length = int(rng.uniform(0.2, 1.0) * fs)
            noise = signal.sosfilt(self.sos_muscle, rng.standard_normal(length + 64))[64:]
            noise /= noise.std() + 1e-12
            side = self.temporal[int(rng.integers(2))]
            amp = p.muscle_amp * rng.uniform(0.6, 1.4)
            out.append(Transient(t0, np.outer(side, noise * np.hanning(length) * amp), "muscle"))
        for _ in range(rng.poisson(p.pop_rate * dur * self.artifacts)):
            t0 = start + int(rng.integers(b))
            ch = int(rng.integers(self.n_channels))
            tau = rng.uniform(0.3, 1.5)
            t = np.arange(int(5 * tau * fs)) / fs
            data = np.zeros((self.n_channels, t.size))
            data[ch] = rng.uniform(50.0, 200.0) * rng.choice([-1.0, 1.0]) * np.exp(-t / tau)
            out.append(Transient(t0, data, "pop"))
        return out


def _xy(ch_names: tuple[str, ...]) -> list[tuple[float, float]]:
    from ._montage import _LAYOUT

    return [_LAYOUT[c] for c in ch_names]
